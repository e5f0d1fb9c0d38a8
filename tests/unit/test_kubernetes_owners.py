"""Who owns a Deployment, from the markers Argo CD, Flux and Helm leave, and what rollbot says to
do instead of a kubectl-style undo there; a Helm release Secret decoded as Helm stores it."""

from __future__ import annotations

import base64
import gzip
import json

from integrations.kubernetes.owners import (
    Owner,
    helm_release,
    owner_of,
    previous_release,
    undo_refusal,
    unknown_marker,
)


def _secret(version: int, status: str) -> dict[str, object]:
    """Helm 3's storage format, step by step as its driver documents it."""
    release = {
        "version": version,
        "info": {"status": status},
        "chart": {
            "metadata": {"name": "shop", "version": f"1.{version}.0", "appVersion": f"2.{version}"}
        },
    }
    helm_value = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    return {"data": {"release": base64.b64encode(helm_value).decode()}}


def test_the_owner_from_each_controllers_markers() -> None:
    assert owner_of(
        {"annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:prod/shop"}}
    ) == Owner("argocd", "Application", "shop")
    assert owner_of({"labels": {"argocd.argoproj.io/instance": "web"}}) == Owner(
        "argocd", "Application", "web"
    )
    managed = {"name": "api", "managedFields": [{"manager": "argocd-controller"}]}
    assert owner_of(managed) == Owner("argocd", "Application", "api")
    flux = {
        "labels": {
            "kustomize.toolkit.fluxcd.io/name": "apps",
            "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
        }
    }
    assert owner_of(flux) == Owner("flux", "Kustomization", "apps", "flux-system")
    assert owner_of(flux).said == "Flux Kustomization flux-system/apps"  # type: ignore[union-attr]
    helm = {
        "annotations": {
            "meta.helm.sh/release-name": "shop",
            "meta.helm.sh/release-namespace": "prod",
        }
    }
    assert owner_of(helm) == Owner("helm", "release", "shop", "prod")
    assert owner_of({"labels": {"app": "x"}}) is None
    assert unknown_marker({"labels": {"app.kubernetes.io/managed-by": "pulumi"}}) == (
        "the label app.kubernetes.io/managed-by=pulumi"
    )
    assert unknown_marker({"labels": {"app.kubernetes.io/managed-by": "kubectl"}}) is None


def test_a_helm_release_secret_decodes_and_the_previous_revision_is_found() -> None:
    assert helm_release(_secret(3, "deployed"))["version"] == 3
    history = [_secret(1, "superseded"), _secret(2, "superseded"), _secret(3, "deployed")]
    previous = previous_release(history)
    assert previous is not None
    assert previous["version"] == 2
    assert previous_release([_secret(1, "deployed")]) is None
    assert previous_release([_secret(1, "failed")]) is None


def test_each_refusal_names_the_path_to_take_instead() -> None:
    argo = undo_refusal(
        Owner("argocd", "Application", "shop"), "deployment/shop -n prod", "prod", None
    )
    assert "put back by its self-heal" in argo
    assert "`argocd app rollback shop <ID>`" in argo
    flux = undo_refusal(
        Owner("flux", "HelmRelease", "shop", "apps"), "deployment/shop -n prod", "prod", None
    )
    assert "`flux suspend helmrelease shop -n apps`" in flux
    previous = helm_release(_secret(2, "superseded"))
    helm = undo_refusal(
        Owner("helm", "release", "shop", "prod"), "deployment/shop -n prod", "prod", previous
    )
    assert (
        "`helm rollback shop 2 -n prod` (release revision 2: chart shop-1.2.0, app version 2.2)"
        in helm
    )
    unknown = undo_refusal(
        Owner("helm", "release", "shop"), "deployment/shop -n prod", "prod", None
    )
    assert "`helm history shop -n prod`, then `helm rollback shop <REVISION> -n prod`" in unknown
