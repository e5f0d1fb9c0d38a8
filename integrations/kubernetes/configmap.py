"""ConfigMap rollbacks: restore a version rollbot kept, record the changed keys.

Kubernetes keeps no history for ConfigMaps, so rollbot records every version it sees (each
preflight, each evidence capture) or writes, and rolls back to one of those."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bot.audit.readable import fields
from bot.domain.request import RollbackRequest, TargetRef
from bot.ports import (
    Clock,
    ConfigVersion,
    ConfigVersions,
    EvidenceWindow,
    ExecutionError,
    ExecutionResult,
    Fence,
    NothingChangedError,
    Preflight,
    Progress,
    ReadableEvidence,
    SystemClock,
    UnknownTargetError,
)
from integrations.kubernetes.config_readers import ConfigReaders
from integrations.kubernetes.deployment import KubernetesExecutor
from integrations.kubernetes.rollout import (
    CONFLICT_RETRIES,
    json_body,
    read_named,
)
from integrations.kubernetes.threads import in_kube_thread


def changed_keys(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def content_identity(version: ConfigVersion) -> str:
    return f"configuration {version.sha256[:12]}"


class KubernetesConfigMapExecutor:
    def __init__(
        self, cluster: KubernetesExecutor, versions: ConfigVersions, clock: Clock | None = None
    ) -> None:
        self._cluster = cluster
        self._versions = versions
        self._readers = ConfigReaders(cluster)
        self._clock = clock or SystemClock()

    def _read(self, target: TargetRef) -> dict[str, Any]:
        core = client.CoreV1Api(self._cluster.api_for(target))
        return read_named(core.read_namespaced_config_map, target, self._cluster.request_timeout)

    async def _current(self, target: TargetRef) -> tuple[dict[str, Any], int]:
        live, seen = await self._seen(target)
        return live, seen.version

    async def _seen(self, target: TargetRef) -> tuple[dict[str, Any], ConfigVersion]:
        live = await in_kube_thread(self._read, target)
        return live, await self._versions.record(target, live.get("data") or {})

    async def _chosen(self, target: TargetRef, current: int, to_revision: str | None) -> Any:
        if to_revision is not None:
            chosen = await self._versions.get(target, int(to_revision))
            if chosen is None:
                raise UnknownTargetError(
                    f"rollbot has no version {to_revision} of `{target.label}`"
                )
            return chosen
        earlier = [v for v in await self._versions.history(target) if v.version < current]
        if not earlier:
            raise UnknownTargetError(
                f"rollbot has seen no earlier version of `{target.label}`; it keeps versions from the first time it sees one"
            )
        return earlier[-1]

    async def preflight(
        self, target: TargetRef, to_revision: str | None, to_migration: str | None = None
    ) -> Preflight:
        live, seen = await self._seen(target)
        current = seen.version
        chosen = await self._chosen(target, current, to_revision)
        keys = changed_keys(live.get("data") or {}, chosen.data)
        if not keys:
            raise UnknownTargetError(
                f"`{target.label}` already holds the content of version {chosen.version}"
            )
        readers = await in_kube_thread(self._readers.of, target)
        restarts = (
            f"; then restarts {', '.join(f'deployment/{r.name}' for r in readers)}, which read it"
            if readers
            else "; no Deployment in the namespace reads it"
        )
        return Preflight(
            live_revision=str(current),
            to_revision=str(chosen.version),
            summary=f"version {current} → {chosen.version}: keys {', '.join(keys)}{restarts}",
            changes=(*(f"key {k}" for k in keys), *(f"restarts {r.label}" for r in readers)),
            # the content, not rollbot's version number: the same content is the same config
            live_identity=content_identity(seen),
            to_identity=content_identity(chosen),
        )

    async def live_revision(self, target: TargetRef) -> str | None:
        return str((await self._current(target))[1])

    def _write(self, target: TargetRef, data: dict[str, str]) -> dict[str, Any]:
        core = client.CoreV1Api(self._cluster.api_for(target))
        for attempt in range(CONFLICT_RETRIES):
            live = self._read(target)
            body = {
                **live,
                "data": data,
            }  # carries live resourceVersion: a concurrent edit is a 409
            try:
                return json_body(
                    core.replace_namespaced_config_map(
                        target.name,
                        target.namespace or "default",
                        body,  # type: ignore[arg-type]  # the client takes plain dicts too
                        _preload_content=False,
                        _request_timeout=self._cluster.request_timeout,
                    )
                )
            except ApiException as exc:
                if exc.status == 409 and attempt + 1 < CONFLICT_RETRIES:
                    continue
                raise ExecutionError(
                    f"the API server refused the ConfigMap update: {exc.status} {exc.reason}"
                ) from None
        raise ExecutionError("the ConfigMap kept changing under the rollback")  # pragma: no cover

    async def execute(
        self, request: RollbackRequest, progress: Progress, fence: Fence
    ) -> ExecutionResult:
        target = request.target
        live, current = await self._current(target)
        chosen = await self._chosen(target, current, request.to_revision)
        keys = changed_keys(live.get("data") or {}, chosen.data)
        await fence()
        await in_kube_thread(self._write, target, chosen.data)
        written = await self._versions.record(target, chosen.data)
        await progress(
            f"restored `{target.label}` to the content of version {chosen.version}; changed keys: {', '.join(keys)}"
        )
        await self._restart_readers(target, progress, fence)
        return ExecutionResult(
            from_revision=str(current),
            to_revision=str(written.version),
            detail=f"keys {', '.join(keys)}",
        )

    async def _restart_readers(self, target: TargetRef, progress: Progress, fence: Fence) -> None:
        """Pods read a ConfigMap when they start: each Deployment that reads it is restarted
        (`kubectl rollout restart`) and followed until its new pods are ready."""
        for reader in await in_kube_thread(self._readers.of, target):
            await fence()
            was, patched = await in_kube_thread(self._readers.restart, reader, self._clock.now())
            await progress(f"restarted `{reader.label}`, which reads `{target.label}`; watching")
            await self._cluster.follow(reader, was, patched, progress)

    async def resume(
        self, request: RollbackRequest, progress: Progress, fence: Fence | None = None
    ) -> ExecutionResult:
        target = request.target
        live, current = await self._current(target)
        chosen = await self._versions.get(target, int(request.to_revision or 0))
        if chosen is None or (live.get("data") or {}) != chosen.data:
            raise NothingChangedError(
                f"`{target.label}` does not hold the content of version {request.to_revision} "
                "the rollback restores"
            )
        await progress(f"`{target.label}` holds the content of version {chosen.version}")
        return ExecutionResult(
            from_revision=request.baseline_revision, to_revision=str(current), detail="resumed"
        )

    async def capture(self, target: TargetRef) -> dict[str, Any]:
        """The ConfigMap as it is; its values reach evidence only as salted hashes (the
        evidence recorder redacts every capture, bot.domain.redaction)."""
        live, version = await self._current(target)
        data = dict(live.get("data") or {})
        return {
            "configmap": target.label,
            "rollbot_version": version,
            "resourceVersion": live["metadata"]["resourceVersion"],
            "data": data,
        }

    async def readable(
        self, target: TargetRef, captured: Mapping[str, Any], window: EvidenceWindow
    ) -> ReadableEvidence:
        if "configmap" not in captured:
            return ReadableEvidence(gaps=("the ConfigMap capture failed: nothing to render",))
        data = captured.get("data") or {}
        text = fields(
            f"ConfigMap {captured['configmap']}",
            [
                ("Version (rollbot's numbering)", captured.get("rollbot_version")),
                ("resourceVersion", captured.get("resourceVersion")),
                ("Keys", len(data)),
                *((f"  {k}", v) for k, v in sorted(data.items())),
            ],
        )
        return ReadableEvidence(files={f"configmap-{window.moment.value}.txt": text})
