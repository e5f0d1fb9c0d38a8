"""A deployment controller with the real semantics kubectl relies on: one ReplicaSet per pod
template (pod-template-hash), revisions that an undo reuses and bumps, a rollout that advances
over a configurable time, ProgressDeadlineExceeded for images that never become ready."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import math
import re
import secrets
from typing import Any

from sandbox.kube.annotations import REVISION, revision, sync_new_replica_set
from sandbox.kube.pods import ContainerOutput, new_pod
from sandbox.kube.store import ApiError, ObjectStore, now_iso

HASH_LABEL = "pod-template-hash"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _normal(value: Any) -> Any:
    """Drop what the API server would default or kubectl blanks (null, {}), so that templates
    that mean the same compare equal."""
    if isinstance(value, dict):
        cleaned = {k: _normal(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in cleaned.items() if v != {}}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _plain_template(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template)
    (t.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    plain: dict[str, Any] = _normal(t)
    return plain


def template_hash(template: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(_plain_template(template), sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def default_deployment(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault(
        "strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
    )
    obj.setdefault("status", {})


class DeploymentController:
    def __init__(
        self,
        store: ObjectStore,
        *,
        rollout_seconds: float = 0.4,
        steps: int = 4,
        deadline_scale: float = 0.002,
        broken_image: str = r"-broken$",
    ) -> None:
        self.store = store
        self.rollout_seconds = rollout_seconds
        self.steps = steps
        self.deadline_scale = deadline_scale
        self.broken = re.compile(broken_image)
        self.output = ContainerOutput()
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._queued = 0
        store.listeners.append(self._changed)

    def _changed(self, resource: str, kind: str, obj: dict[str, Any]) -> None:
        if resource != "deployments" or kind == "DELETED":
            return
        meta, status = obj["metadata"], obj.get("status") or {}
        # The real controller syncs on every update; a new template needs a rollout, anything
        # else (an annotation, a status write) only the current ReplicaSet's annotations.
        rollout = meta.get("generation", 1) > status.get("observedGeneration", 0)
        self._queued += 1
        asyncio.get_running_loop().call_soon(
            self._queued_reconcile, meta["namespace"], meta["name"], rollout
        )

    def _queued_reconcile(self, namespace: str, name: str, rollout: bool) -> None:
        self._queued -= 1
        if rollout:
            self._reconcile(namespace, name)
        else:
            self._sync_annotations(namespace, name)

    def _current(self, deployment: dict[str, Any]) -> tuple[dict[str, Any] | None, int]:
        """The ReplicaSet running the deployment's template, and the revision it should carry
        (getNewReplicaSet: one more than the highest of the others)."""
        owned = self._owned(deployment)
        wanted = _plain_template(deployment["spec"]["template"])
        current = next(
            (rs for rs in owned if _plain_template(rs["spec"]["template"]) == wanted), None
        )
        others = [revision(rs) for rs in owned if rs is not current]
        return current, max(others, default=0) + 1

    def _sync_annotations(self, namespace: str, name: str) -> None:
        deployment = self.store.get("deployments", namespace, name)
        if deployment is None:
            return
        current, new_revision = self._current(deployment)
        if current is not None and sync_new_replica_set(
            deployment, current, new_revision, exists=True
        ):
            self.store.replace("replicasets", current)

    def _owned(self, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        uid = deployment["metadata"]["uid"]
        return [
            rs
            for rs in self.store.list("replicasets", deployment["metadata"]["namespace"])
            if any(o.get("uid") == uid for o in rs["metadata"].get("ownerReferences") or [])
        ]

    def _event(
        self, about: dict[str, Any], message: str, reason: str = "ScalingReplicaSet"
    ) -> None:
        meta = about["metadata"]
        component = (
            "deployment-controller" if about["kind"] == "Deployment" else "replicaset-controller"
        )
        self.store.create(
            "events",
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": f"{meta['name']}.{secrets.token_hex(8)}",
                    "namespace": meta["namespace"],
                },
                "involvedObject": {
                    "kind": about["kind"],
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "apiVersion": about.get("apiVersion", "apps/v1"),
                },
                "reason": reason,
                "message": message,
                "type": "Normal",
                "count": 1,
                "firstTimestamp": now_iso(),
                "lastTimestamp": now_iso(),
                "source": {"component": component},
            },
        )

    def _new_replica_set(self, deployment: dict[str, Any], new_revision: int) -> dict[str, Any]:
        meta, spec = deployment["metadata"], deployment["spec"]
        pod_hash = template_hash(spec["template"])
        template = copy.deepcopy(spec["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(spec.get("selector") or {"matchLabels": {}})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        rs: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{pod_hash}",
                "namespace": meta["namespace"],
                "labels": template["metadata"]["labels"],
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
            "status": {"replicas": 0},
        }
        sync_new_replica_set(deployment, rs, new_revision, exists=False)
        return self.store.create("replicasets", rs)

    def _reconcile(self, namespace: str, name: str) -> None:
        deployment = self.store.get("deployments", namespace, name)
        if deployment is None:
            return
        spec = deployment["spec"]
        if spec.get("paused"):
            self._set_status(
                deployment, progressing=("Unknown", "DeploymentPaused", "Deployment is paused")
            )
            return
        current, new_revision = self._current(deployment)
        if current is None:
            current = self._new_replica_set(deployment, new_revision)
        elif sync_new_replica_set(deployment, current, new_revision, exists=True):
            # e.g. an undo: the old ReplicaSet comes back as the newest revision
            current = self.store.replace("replicasets", current)
        notes = deployment["metadata"].setdefault("annotations", {})
        if notes.get(REVISION) != current["metadata"]["annotations"][REVISION]:
            notes[REVISION] = current["metadata"]["annotations"][REVISION]
            deployment = self.store.replace("deployments", deployment)
        deployment = self._set_status(
            deployment,
            progressing=(
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{current["metadata"]["name"]}" is progressing.',
            ),
        )
        key = (namespace, name)
        if key in self._tasks:
            self._tasks[key].cancel()
        self._tasks[key] = asyncio.get_running_loop().create_task(
            self._roll(namespace, name, current["metadata"]["name"])
        )

    def _broken(self, rs: dict[str, Any]) -> bool:
        return any(
            self.broken.search(c.get("image", ""))
            for c in rs["spec"]["template"]["spec"].get("containers", [])
        )

    def _scale(self, rs: dict[str, Any], replicas: int, deployment: dict[str, Any]) -> None:
        rs = (
            self.store.get("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]) or rs
        )
        before = rs["spec"]["replicas"]
        if before == replicas:
            return
        ready = 0 if self._broken(rs) else replicas
        rs["spec"]["replicas"] = replicas
        rs["status"] = {
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        self.store.replace("replicasets", rs)
        self._sync_pods(rs, replicas, ready > 0 or replicas == 0)
        verb = "up" if replicas > before else "down"
        self._event(
            deployment,
            f"Scaled {verb} replica set {rs['metadata']['name']} to {replicas} from {before}",
        )

    def _sync_pods(self, rs: dict[str, Any], replicas: int, ready: bool) -> None:
        ns, uid = rs["metadata"]["namespace"], rs["metadata"]["uid"]
        pods = [
            p
            for p in self.store.list("pods", ns)
            if any(o.get("uid") == uid for o in p["metadata"].get("ownerReferences") or [])
        ]
        for pod in pods[replicas:]:
            self.store.delete("pods", ns, pod["metadata"]["name"])
            self._event(rs, f"Deleted pod: {pod['metadata']['name']}", "SuccessfulDelete")
        for _ in range(replicas - len(pods)):
            pod = self.store.create("pods", new_pod(rs, ready, self.output))
            self._event(rs, f"Created pod: {pod['metadata']['name']}", "SuccessfulCreate")

    def _set_status(
        self,
        deployment: dict[str, Any],
        *,
        progressing: tuple[str, str, str] | None = None,
        available: bool | None = None,
    ) -> dict[str, Any]:
        fresh = self.store.get(
            "deployments", deployment["metadata"]["namespace"], deployment["metadata"]["name"]
        )
        if fresh is None:
            return deployment
        owned = self._owned(fresh)
        newest = max(owned, key=revision, default=None)
        status = fresh.setdefault("status", {})
        status["observedGeneration"] = fresh["metadata"].get("generation", 1)
        status["replicas"] = sum(rs["spec"]["replicas"] for rs in owned)
        status["updatedReplicas"] = newest["spec"]["replicas"] if newest else 0
        ready = sum((rs.get("status") or {}).get("readyReplicas", 0) for rs in owned)
        status["readyReplicas"] = status["availableReplicas"] = ready
        status["unavailableReplicas"] = max(fresh["spec"]["replicas"] - ready, 0)
        conditions = {c["type"]: c for c in status.get("conditions", [])}
        if available is not None:
            conditions["Available"] = {
                "type": "Available",
                "status": "True" if available else "False",
                "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
                "lastUpdateTime": now_iso(),
                "lastTransitionTime": now_iso(),
            }
        if progressing is not None:
            state, reason, message = progressing
            conditions["Progressing"] = {
                "type": "Progressing",
                "status": state,
                "reason": reason,
                "message": message,
                "lastUpdateTime": now_iso(),
                "lastTransitionTime": now_iso(),
            }
        status["conditions"] = list(conditions.values())
        try:
            return self.store.replace("deployments", fresh)
        except ApiError:
            return fresh

    async def _roll(self, namespace: str, name: str, new_name: str) -> None:
        deployment = self.store.get("deployments", namespace, name)
        if deployment is None:
            return
        desired = deployment["spec"]["replicas"]
        new = self.store.get("replicasets", namespace, new_name)
        assert new is not None
        broken = self._broken(new)
        for step in range(1, self.steps + 1):
            await asyncio.sleep(self.rollout_seconds / self.steps)
            # a rollout only grows the new ReplicaSet, from wherever it stands (e.g. after resume)
            current = self.store.get("replicasets", namespace, new_name) or new
            target = max(
                math.ceil(desired * step / self.steps), min(current["spec"]["replicas"], desired)
            )
            self._scale(new, target, deployment)
            if not broken:
                for old in self._owned(deployment):
                    if old["metadata"]["name"] != new_name and old["spec"]["replicas"]:
                        self._scale(old, max(desired - target, 0), deployment)
            self._set_status(deployment, available=not broken or step < self.steps)
        if broken:
            await asyncio.sleep(deployment["spec"]["progressDeadlineSeconds"] * self.deadline_scale)
            self._set_status(
                deployment,
                available=True,
                progressing=(
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{new_name}" has timed out progressing.',
                ),
            )
            return
        self._set_status(
            deployment,
            available=True,
            progressing=(
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{new_name}" has successfully progressed.',
            ),
        )
        self._clean_up(namespace, name, new_name)

    def _clean_up(self, namespace: str, name: str, new_name: str) -> None:
        """Once a rollout completes, old ReplicaSets past revisionHistoryLimit are deleted,
        oldest revision first, only those scaled to nothing (cleanupDeployment in
        k8s.io/kubernetes pkg/controller/deployment/sync.go)."""
        deployment = self.store.get("deployments", namespace, name)
        if deployment is None or "revisionHistoryLimit" not in deployment["spec"]:
            return
        limit = int(deployment["spec"]["revisionHistoryLimit"])
        cleanable = [
            rs
            for rs in self._owned(deployment)
            if rs["metadata"]["name"] != new_name
            and not rs["spec"].get("replicas")
            and not (rs.get("status") or {}).get("replicas")
        ]
        cleanable.sort(key=lambda rs: int(rs["metadata"].get("annotations", {}).get(REVISION, 0)))
        for rs in cleanable[: max(len(cleanable) - limit, 0)]:
            self.store.delete("replicasets", namespace, rs["metadata"]["name"])

    async def idle(self) -> None:
        """Wait until nothing is queued and every rollout in flight has finished (tests)."""
        # polls two sources at once (queued callbacks, running tasks); a test helper only
        while self._queued or any(not t.done() for t in self._tasks.values()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
