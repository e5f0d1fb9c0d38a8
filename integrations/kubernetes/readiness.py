"""Whether a Deployment can still be rolled back, read the way `kubectl rollout undo` would find
it: the previous ReplicaSet by revision among those the Deployment controls, its pause, its
rollout status, and the markers a GitOps controller leaves on what it owns (Argo CD's
tracking-id annotation and instance label, Flux's kustomize and helm labels, Helm's release
annotations)."""

from __future__ import annotations

from typing import Any

from bot.domain.request import TargetRef
from bot.domain.rollback_readiness import RollbackPathFacts
from bot.ports import AdapterError, ExecutionError
from integrations.kubernetes.deployment import KubernetesExecutor
from integrations.kubernetes.owners import gitops_owner
from integrations.kubernetes.rollout import revision_of, rollout_state
from integrations.kubernetes.threads import in_kube_thread


def rollback_path(
    target: TargetRef, deployment: dict[str, Any], owned: list[dict[str, Any]]
) -> RollbackPathFacts:
    """The facts of a Deployment and the ReplicaSets it controls (as `_replicasets` selects)."""
    spec = deployment.get("spec") or {}
    current = revision_of(deployment)
    earlier = sorted(r for r in map(revision_of, owned) if 0 < r < current)
    try:
        done, message = rollout_state(deployment)
    except ExecutionError as exc:  # past its progress deadline: still not rolled out
        done, message = False, str(exc)
    owner, unknown = gitops_owner(deployment.get("metadata") or {})
    return RollbackPathFacts(
        target=target,
        revision_history_limit=spec.get("revisionHistoryLimit", 10),
        previous_revision=str(earlier[-1]) if earlier else None,
        paused=bool(spec.get("paused")),
        rollout_in_progress=None if done else message,
        gitops_owner=owner,
        unknown_owner_marker=unknown,
    )


class KubernetesRollbackPaths:
    def __init__(self, kube: KubernetesExecutor) -> None:
        self._kube = kube

    async def facts(self, target: TargetRef) -> RollbackPathFacts:
        try:
            deployment, owned = await in_kube_thread(self._kube.with_history, target)
        except AdapterError as exc:
            return RollbackPathFacts(target=target, unreadable=str(exc))
        return rollback_path(target, deployment, owned)
