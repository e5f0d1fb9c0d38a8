"""Who owns a Deployment besides its namespace: the markers a GitOps controller or Helm leaves on
what it manages, and what a kubectl-style undo would do there. Pure.

- Argo CD: the `argocd.argoproj.io/tracking-id` annotation (`<app>:<group>/<kind>:<ns>/<name>`),
  the `argocd.argoproj.io/instance` label, or a managedFields entry by `argocd-controller`. With
  self-heal on, Argo CD puts a manual change back within seconds (5 s by default), and it
  refuses its own rollback while auto-sync is on.
- Flux: the `kustomize.toolkit.fluxcd.io/name|namespace` and `helm.toolkit.fluxcd.io/name|
  namespace` labels. Flux reconciles a manual change away unless the object is suspended.
- Helm: the `meta.helm.sh/release-name|namespace` annotations (and `app.kubernetes.io/
  managed-by: Helm`). After a kubectl undo the next `helm upgrade` makes its three-way merge
  from the wrong base. A release's history is in Secrets `sh.helm.release.v1.<release>.v<N>`:
  `data.release` is base64 (the Secret's own) of base64 of gzip of the release's JSON."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from typing import Any, Literal

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bot.domain.request import TargetRef
from bot.ports import UnknownTargetError
from integrations.kubernetes.rollout import json_body

ARGO_TRACKING = "argocd.argoproj.io/tracking-id"
ARGO_INSTANCE = "argocd.argoproj.io/instance"
ARGO_MANAGER = "argocd-controller"
FLUX_KUSTOMIZE = "kustomize.toolkit.fluxcd.io/name"
FLUX_HELM = "helm.toolkit.fluxcd.io/name"
HELM_RELEASE = "meta.helm.sh/release-name"
HELM_NAMESPACE = "meta.helm.sh/release-namespace"
MANAGED_BY = "app.kubernetes.io/managed-by"


@dataclass(frozen=True)
class Owner:
    controller: Literal["argocd", "flux", "helm"]
    kind: str  # Application, Kustomization, HelmRelease, release
    name: str
    namespace: str | None = None

    @property
    def said(self) -> str:
        where = f"{self.namespace}/" if self.namespace and self.controller == "flux" else ""
        return {
            "argocd": f"Argo CD application {self.name}",
            "flux": f"Flux {self.kind} {where}{self.name}",
            "helm": f"Helm release {self.name}",
        }[self.controller]


def owner_of(metadata: dict[str, Any]) -> Owner | None:
    labels, notes = metadata.get("labels") or {}, metadata.get("annotations") or {}
    if tracking := notes.get(ARGO_TRACKING):
        return Owner("argocd", "Application", tracking.partition(":")[0])
    if instance := labels.get(ARGO_INSTANCE):
        return Owner("argocd", "Application", instance)
    for label, kind in ((FLUX_KUSTOMIZE, "Kustomization"), (FLUX_HELM, "HelmRelease")):
        if name := labels.get(label):
            return Owner("flux", kind, name, labels.get(label.replace("/name", "/namespace")))
    if release := notes.get(HELM_RELEASE):
        return Owner("helm", "release", release, notes.get(HELM_NAMESPACE))
    managers = {m.get("manager") for m in metadata.get("managedFields") or []}
    if ARGO_MANAGER in managers:
        return Owner("argocd", "Application", metadata.get("name", "?"))
    return None


def unknown_marker(metadata: dict[str, Any]) -> str | None:
    """A marker that says something manages the object without saying what."""
    managed = (metadata.get("labels") or {}).get(MANAGED_BY)
    if owner_of(metadata) is None and managed and managed.lower() not in ("kubectl", "rollbot"):
        return f"the label {MANAGED_BY}={managed}"
    return None


def gitops_owner(metadata: dict[str, Any]) -> tuple[str | None, str | None]:
    """(who owns it, a marker naming no owner), as the readiness gate reports them."""
    owner = owner_of(metadata)
    return (owner.said if owner else None), unknown_marker(metadata)


def helm_release(secret: dict[str, Any]) -> dict[str, Any]:
    """The release a Helm release Secret holds (its JSON), decoded as Helm's storage driver
    encodes it."""
    stored = base64.b64decode(secret["data"]["release"])
    data: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(stored)))
    return data


def previous_release(secrets: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The release `helm rollback <release>` with no revision would go back to: the newest
    below the deployed one."""
    releases = sorted((helm_release(s) for s in secrets), key=lambda r: int(r["version"]))
    deployed = [r for r in releases if (r.get("info") or {}).get("status") == "deployed"]
    if not deployed:
        return None
    earlier = [r for r in releases if int(r["version"]) < int(deployed[-1]["version"])]
    return earlier[-1] if earlier else None


def undo_refusal(owner: Owner, label: str, namespace: str, previous: dict[str, Any] | None) -> str:
    """Why a kubectl-style undo is refused on what `owner` manages, and what to run instead."""
    if owner.controller == "argocd":
        app = owner.name
        return (
            f"`{label}` is managed by {owner.said}: a kubectl-style undo would be put back by "
            "its self-heal, and Argo CD refuses its own rollback while auto-sync is on. Roll back "
            f"in Argo CD: `argocd app set {app} --sync-policy none`, `argocd app history {app}`, "
            f"`argocd app rollback {app} <ID>`; then revert the commit in git and turn auto-sync "
            "back on"
        )
    if owner.controller == "flux":
        kind = owner.kind.lower()
        where = owner.namespace or "flux-system"
        return (
            f"`{label}` is reconciled by {owner.said}, which puts a manual change back unless it "
            f"is suspended: `flux suspend {kind} {owner.name} -n {where}`, roll back by hand, "
            f"revert the commit in git, then `flux resume {kind} {owner.name} -n {where}`"
        )
    release_ns = owner.namespace or namespace
    if previous is None:
        then = f"`helm history {owner.name} -n {release_ns}`, then `helm rollback {owner.name} <REVISION> -n {release_ns}`"
    else:
        chart = (previous.get("chart") or {}).get("metadata") or {}
        then = (
            f"`helm rollback {owner.name} {previous['version']} -n {release_ns}` (release "
            f"revision {previous['version']}: chart {chart.get('name', '?')}-"
            f"{chart.get('version', '?')}, app version {chart.get('appVersion', '?')})"
        )
    return (
        f"`{label}` belongs to {owner.said}: after a kubectl-style undo the next `helm upgrade` "
        f"merges from the wrong base. Roll the release back instead: {then}; or allow a plain "
        f"undo for this service in the policy (`services.<name>.helm: kubectl-undo`)"
    )


def refuse_if_owned(
    api: Any, target: TargetRef, deployment: dict[str, Any], plain_undo: bool, timeout: float
) -> None:
    """Raise ManagedElsewhereError when a kubectl-style undo is the wrong path for `target`
    (blocking: call in a kube thread). A Helm release's previous revision is read from its
    Secrets (label `owner=helm`); without permission to list them the message says how to look."""
    owner = owner_of(deployment.get("metadata") or {})
    if owner is None or (owner.controller == "helm" and plain_undo):
        return
    namespace = target.namespace or "default"
    previous = None
    if owner.controller == "helm":
        core = client.CoreV1Api(api)
        try:
            listed = core.list_namespaced_secret(
                owner.namespace or namespace,
                label_selector=f"owner=helm,name={owner.name}",
                _preload_content=False,
                _request_timeout=timeout,
            )
            previous = previous_release(json_body(listed)["items"])
        except (ApiException, KeyError, ValueError, OSError):
            previous = None  # unreadable history: the message says how to look it up
    raise ManagedElsewhereError(undo_refusal(owner, target.label, namespace, previous))


class ManagedElsewhereError(UnknownTargetError):
    """The target is managed by a GitOps controller or Helm; nothing was changed."""
