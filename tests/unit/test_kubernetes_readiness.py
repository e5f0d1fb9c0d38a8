"""Who owns a Deployment, from the markers GitOps controllers and Helm leave on it, and the
rollback path read from a Deployment and its ReplicaSets."""

from __future__ import annotations

from typing import Any

from bot.domain.request import TargetRef
from integrations.kubernetes.readiness import gitops_owner, rollback_path

API = TargetRef(kind="deployment", name="api", namespace="prod")


def test_owners_are_named_from_their_markers() -> None:
    argo = {"annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:prod/api"}}
    assert gitops_owner(argo) == ("Argo CD application shop", None)
    assert gitops_owner({"labels": {"argocd.argoproj.io/instance": "shop"}})[0] == (
        "Argo CD application shop"
    )
    flux = {
        "labels": {
            "kustomize.toolkit.fluxcd.io/name": "apps",
            "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
        }
    }
    assert gitops_owner(flux)[0] == "Flux Kustomization flux-system/apps"
    assert gitops_owner({"labels": {"helm.toolkit.fluxcd.io/name": "api"}})[0] == (
        "Flux HelmRelease api"
    )
    assert gitops_owner({"annotations": {"meta.helm.sh/release-name": "api"}})[0] == (
        "Helm release api"
    )
    assert gitops_owner({"labels": {"app.kubernetes.io/managed-by": "pulumi"}}) == (
        None,
        "the label app.kubernetes.io/managed-by=pulumi",
    )
    assert gitops_owner({"labels": {"app.kubernetes.io/managed-by": "kubectl"}}) == (None, None)


def _deployment(revision: int, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "api",
            "generation": 2,
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
        },
        "spec": {"replicas": 3, **spec},
        "status": {
            "observedGeneration": 2,
            "updatedReplicas": 3,
            "replicas": 3,
            "availableReplicas": 3,
        },
    }


def _rs(revision: int) -> dict[str, Any]:
    return {"metadata": {"annotations": {"deployment.kubernetes.io/revision": str(revision)}}}


def test_the_rollback_path_is_the_newest_earlier_revision() -> None:
    facts = rollback_path(API, _deployment(5), [_rs(3), _rs(4), _rs(5)])
    assert (facts.previous_revision, facts.revision_history_limit, facts.paused) == ("4", 10, False)
    assert facts.rollout_in_progress is None
    alone = rollback_path(API, _deployment(1, revisionHistoryLimit=0, paused=True), [_rs(1)])
    assert (alone.previous_revision, alone.revision_history_limit, alone.paused) == (None, 0, True)
    moving = _deployment(2)
    moving["status"]["updatedReplicas"] = 1
    assert rollback_path(API, moving, []).rollout_in_progress == (
        "1 out of 3 new replicas have been updated"
    )
    stuck = _deployment(2)
    stuck["status"]["conditions"] = [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]
    assert "exceeded its progress deadline" in str(
        rollback_path(API, stuck, []).rollout_in_progress
    )
