"""The deployment controller's bookkeeping of ReplicaSet annotations, as the real one keeps it
(k8s.io/kubernetes/pkg/controller/deployment/util/deployment_util.go: SetNewReplicaSetAnnotations,
copyDeploymentAnnotationsToReplicaSet, SetReplicasAnnotations). `kubectl rollout history` reads
its CHANGE-CAUSE column from these, so a fake that copied less would hide what an undo leaves."""

from __future__ import annotations

import math
from typing import Any

REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# annotationsToSkip: never copied from a deployment onto its ReplicaSets
SKIPPED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        HISTORY,
        DESIRED,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
# the controller's maxRevHistoryLengthInChars
HISTORY_LIMIT = 2000


def revision(obj: dict[str, Any]) -> int:
    return int((obj["metadata"].get("annotations") or {}).get(REVISION) or 0)


def max_surge(deployment: dict[str, Any]) -> int:
    """MaxSurge: a RollingUpdate's maxSurge, a percentage rounded up; 0 for Recreate."""
    spec = deployment["spec"]
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    value = str((strategy.get("rollingUpdate") or {}).get("maxSurge", "25%"))
    if value.endswith("%"):
        return math.ceil(int(spec.get("replicas", 1)) * int(value[:-1]) / 100)
    return int(value)


def _copy_from_deployment(deployment: dict[str, Any], notes: dict[str, str]) -> bool:
    """Every annotation of the deployment but the skipped ones; the ReplicaSet keeps its others."""
    changed = False
    for key, value in (deployment["metadata"].get("annotations") or {}).items():
        if key in SKIPPED or notes.get(key) == value:
            continue
        notes[key] = value
        changed = True
    return changed


def _remember(notes: dict[str, str], old: str) -> None:
    """A reused ReplicaSet keeps the revisions it had before, oldest dropped past the limit."""
    history = [h for h in notes.get(HISTORY, "").split(",") if h]
    while history and len(",".join([*history, old])) > HISTORY_LIMIT:
        history.pop(0)
    if len(",".join([*history, old])) <= HISTORY_LIMIT:
        notes[HISTORY] = ",".join([*history, old])


def sync_new_replica_set(
    deployment: dict[str, Any], rs: dict[str, Any], new_revision: int, *, exists: bool
) -> bool:
    """SetNewReplicaSetAnnotations: runs on every sync of the deployment, not only when its
    template changes, so `kubectl annotate deployment/x kubernetes.io/change-cause=…` reaches the
    current ReplicaSet. Returns whether the ReplicaSet needs writing."""
    notes: dict[str, str] = rs["metadata"].setdefault("annotations", {})
    changed = _copy_from_deployment(deployment, notes)
    old = notes.get(REVISION)
    if int(old or 0) < new_revision:
        notes[REVISION] = str(new_revision)
        changed = True
        if old:
            _remember(notes, old)
    if not exists:
        replicas = deployment["spec"].get("replicas", 1)
        notes[DESIRED] = str(replicas)
        notes[MAX_REPLICAS] = str(replicas + max_surge(deployment))
        changed = True
    return changed
