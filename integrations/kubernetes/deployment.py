"""Deployment rollbacks exactly as `kubectl rollout undo` makes them, watched the way
`kubectl rollout status` watches, through the official client (off the event loop).

Works on plain JSON dicts, the same objects kubectl sees, so the behaviour can be compared
with kubectl line for line (k8s.io/kubectl/pkg/polymorphichelpers/rollback.go, rollout_status.go)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from bot.domain.redaction import redact
from bot.domain.request import RollbackRequest, TargetRef
from bot.ports import (
    EvidenceWindow,
    ExecutionError,
    ExecutionResult,
    Fence,
    NothingChangedError,
    Preflight,
    Progress,
    ReadableEvidence,
    UnknownTargetError,
)
from integrations.kubernetes.evidence import capture_deployment, readable_deployment
from integrations.kubernetes.owners import refuse_if_owned
from integrations.kubernetes.rollout import (
    CONFLICT_RETRIES,
    AccessDeniedError,
    ClusterError,
    access_review,
    expected_migration,
    images_of,
    is_transient,
    json_body,
    plain_template,
    read_named,
    read_with_retries,
    revision_of,
    rollout_state,
    unanswered_patch,
    undo_patch,
)
from integrations.kubernetes.threads import KUBE_THREADS, in_kube_thread

T = TypeVar("T")


class KubernetesExecutor:
    def __init__(
        self,
        *,
        kubeconfig: Path | None = None,
        context: str | None = None,
        rollout_timeout: float = 600.0,
        request_timeout: float = 10.0,
        api_client_factory: Callable[[], Any] | None = None,
        contexts: Mapping[str, str] | None = None,
        plain_undo: frozenset[str] = frozenset(),
    ) -> None:
        self._plain_undo = plain_undo  # Helm-managed services the policy lets a plain undo
        self._kubeconfig = kubeconfig
        self._context = context
        self.rollout_timeout = rollout_timeout
        # Every API call gives up after this long: a hung API server fails the step, it does
        # not hold the request in "executing" forever.
        self.request_timeout = request_timeout
        self._factory = api_client_factory
        self._contexts = dict(contexts or {})
        self._apis: dict[str, Any] = {}

    def api_for(self, target: TargetRef) -> Any:
        """One API client per kubeconfig context; the target's service may name its own."""
        context = self._contexts.get(target.name, self._context)
        key = context or ""
        if key not in self._apis:
            if self._factory is not None:
                self._apis[key] = self._factory()
            elif self._kubeconfig is None:
                config.load_incluster_config()  # type: ignore[no-untyped-call]  # in a pod: its service account
                found = client.Configuration.get_default_copy()
                found.connection_pool_maxsize = KUBE_THREADS  # one connection per thread
                self._apis[key] = client.ApiClient(found)
            else:
                found = client.Configuration()
                found.connection_pool_maxsize = KUBE_THREADS
                self._apis[key] = config.new_client_from_config(  # type: ignore[no-untyped-call]
                    config_file=str(self._kubeconfig), context=context, client_configuration=found
                )
        return self._apis[key]

    async def _call(self, fn: Callable[[], T]) -> T:
        return await in_kube_thread(fn)

    def _deployment(self, target: TargetRef) -> dict[str, Any]:
        apps = client.AppsV1Api(self.api_for(target))
        return read_named(apps.read_namespaced_deployment, target, self.request_timeout)

    def _replicasets(self, deployment: dict[str, Any], target: TargetRef) -> list[dict[str, Any]]:
        """kubectl's selection: by the deployment's selector, then by controller ownership."""
        labels = ",".join(
            f"{k}={v}" for k, v in deployment["spec"]["selector"].get("matchLabels", {}).items()
        )
        apps = client.AppsV1Api(self.api_for(target))
        items = read_with_retries(
            lambda: json_body(
                apps.list_namespaced_replica_set(
                    deployment["metadata"]["namespace"],
                    label_selector=labels,
                    _preload_content=False,
                    _request_timeout=self.request_timeout,
                )
            ),
            "the deployment's ReplicaSets",
        )["items"]
        uid = deployment["metadata"]["uid"]
        return [
            rs
            for rs in items
            if any(
                o.get("uid") == uid and o.get("controller")
                for o in rs["metadata"].get("ownerReferences") or []
            )
        ]

    def with_history(self, target: TargetRef) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The Deployment and the ReplicaSets it controls (blocking: call in a kube thread)."""
        deployment = self._deployment(target)
        return deployment, self._replicasets(deployment, target)

    def _choose(
        self, deployment: dict[str, Any], to_revision: str | None, target: TargetRef
    ) -> dict[str, Any]:
        owned = self._replicasets(deployment, target)
        if to_revision is not None:
            chosen = next((rs for rs in owned if revision_of(rs) == int(to_revision)), None)
            if chosen is None:
                raise UnknownTargetError(
                    f"unable to find specified revision {to_revision} in history"
                )
            return chosen
        current = revision_of(deployment)
        earlier = sorted((rs for rs in owned if 0 < revision_of(rs) < current), key=revision_of)
        if not earlier:
            raise UnknownTargetError(
                f"no rollout history found for deployment {deployment['metadata']['name']!r}"
            )
        return earlier[-1]

    def _preflight_sync(self, target: TargetRef, to_revision: str | None) -> Preflight:
        deployment = self._deployment(target)
        plain = target.name in self._plain_undo
        refuse_if_owned(self.api_for(target), target, deployment, plain, self.request_timeout)
        if deployment["spec"].get("paused"):
            raise UnknownTargetError(f"`{target.label}` is paused; resume it before rolling back")
        chosen = self._choose(deployment, to_revision, target)
        if plain_template(chosen["spec"]["template"]) == deployment["spec"]["template"]:
            raise UnknownTargetError(
                f"`{target.label}` already runs the template of revision {revision_of(chosen)}"
            )
        self._check_access(target)
        before, after = (
            images_of(deployment["spec"]["template"]),
            images_of(chosen["spec"]["template"]),
        )
        changes = tuple(f"image {a} → {b}" for a, b in zip(before, after, strict=False) if a != b)
        return Preflight(
            live_revision=str(revision_of(deployment)),
            to_revision=str(revision_of(chosen)),
            summary=f"revision {revision_of(deployment)} → {revision_of(chosen)}: {', '.join(changes) or 'template change'}",
            changes=changes,
            live_identity=", ".join(before) or None,
            to_identity=", ".join(after) or None,
            expects_migration=expected_migration(chosen["spec"]["template"]),
            live_migration=expected_migration(deployment["spec"]["template"]),
        )

    def _check_access(self, target: TargetRef) -> None:
        review = access_review(target)
        auth = client.AuthorizationV1Api(self.api_for(target))
        answer = read_with_retries(
            lambda: json_body(
                auth.create_self_subject_access_review(
                    review,  # type: ignore[arg-type]  # the client takes plain dicts too
                    _preload_content=False,
                    _request_timeout=self.request_timeout,
                )
            ),
            "access review",
        )
        if not answer.get("status", {}).get("allowed"):
            raise AccessDeniedError(
                f"rollbot may not patch `{target.label}`: {answer.get('status', {}).get('reason', 'denied')}"
            )

    async def preflight(
        self, target: TargetRef, to_revision: str | None, to_migration: str | None = None
    ) -> Preflight:
        if to_migration is not None:  # the schema is rolled back only with a declared database
            raise UnknownTargetError(
                f"--to-migration: no database in the policy lists `{target.label}` among its "
                "deployments"
            )
        return await self._call(lambda: self._preflight_sync(target, to_revision))

    async def live_revision(self, target: TargetRef) -> str | None:
        return str(revision_of(await self._call(lambda: self._deployment(target))))

    def _patch_sync(
        self, target: TargetRef, deployment: dict[str, Any], chosen: dict[str, Any]
    ) -> dict[str, Any]:
        apps = client.AppsV1Api(self.api_for(target))
        return json_body(
            apps.patch_namespaced_deployment(
                target.name,
                target.namespace or "default",
                undo_patch(deployment, chosen),
                _content_type="application/json-patch+json",
                _preload_content=False,
                _request_timeout=self.request_timeout,
            )
        )

    async def _undo(
        self, request: RollbackRequest, fence: Fence
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """kubectl's undo, made conditional twice: on the revision the plan was approved for
        (a deployment that moved is never patched) and, through the patch's test operation, on
        the resourceVersion read just before it (whoever patches first wins; the other sees a
        conflict and reads again)."""
        target = request.target
        for attempt in range(CONFLICT_RETRIES):
            deployment = await self._call(lambda: self._deployment(target))
            if deployment["spec"].get("paused"):
                raise ExecutionError(
                    f"`{target.label}` is paused; it must be resumed before a rollback"
                )
            live = str(revision_of(deployment))
            if request.baseline_revision is not None and live != request.baseline_revision:
                raise ExecutionError(
                    f"`{target.label}` moved to revision {live} while the rollback started "
                    f"(the plan was from revision {request.baseline_revision}); rollbot did not "
                    "patch it"
                )
            chosen = await in_kube_thread(self._choose, deployment, request.to_revision, target)
            await fence()  # this process still holds the rollback: nobody else acts on it
            sent = datetime.now(UTC)
            try:
                patched = await in_kube_thread(self._patch_sync, target, deployment, chosen)
                return deployment, patched
            except ApiException as exc:
                if exc.status in (409, 422) and attempt + 1 < CONFLICT_RETRIES:
                    continue  # someone changed it between our read and our patch: read again
                raise ExecutionError(
                    f"the API server refused the rollback patch: {exc.status} {exc.reason}"
                ) from None
            except urllib3.exceptions.HTTPError as exc:  # no answer: it may or may not have landed
                raise ExecutionError(
                    unanswered_patch(target, sent, self.request_timeout, exc)
                ) from None
        raise ExecutionError("the deployment kept changing under the rollback")  # pragma: no cover

    def _watch_sync(
        self, target: TargetRef, resource_version: str, report: Callable[[str], None]
    ) -> dict[str, Any]:
        apps = client.AppsV1Api(self.api_for(target))
        namespace, seen = target.namespace or "default", ""
        deadline = time.monotonic() + self.rollout_timeout
        while time.monotonic() < deadline:
            stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                apps.list_namespaced_deployment,
                namespace,
                field_selector=f"metadata.name={target.name}",
                resource_version=resource_version,
                timeout_seconds=(wait := max(1, int(deadline - time.monotonic()))),
                # the server ends the watch after timeout_seconds; past that it has hung
                _request_timeout=(self.request_timeout, wait + self.request_timeout),
            )
            try:
                for event in stream:
                    obj: dict[str, Any] = event["raw_object"]
                    resource_version = obj["metadata"]["resourceVersion"]
                    done, message = rollout_state(obj)
                    if message != seen:
                        report(message)
                        seen = message
                    if done:
                        return obj
            except Exception as exc:
                if not is_transient(exc):
                    raise
            # the watch ended (timeout, a dropped connection, a 5xx): pick up from where it was
            current = self._deployment(target)
            done, message = rollout_state(current)
            if done:
                return current
            resource_version = current["metadata"]["resourceVersion"]
        raise ExecutionError(
            f"rollout of `{target.label}` did not finish within {int(self.rollout_timeout)} s"
        )

    async def execute(
        self, request: RollbackRequest, progress: Progress, fence: Fence
    ) -> ExecutionResult:
        target = request.target
        try:
            before, patched = await self._undo(request, fence)
        except (UnknownTargetError, ClusterError) as exc:
            raise ExecutionError(str(exc)) from None
        await progress(
            f"patched `{target.label}` back to the template of revision {request.to_revision or 'previous'}; watching the rollout"
        )
        return await self.follow(target, revision_of(before), patched, progress)

    async def resume(
        self, request: RollbackRequest, progress: Progress, fence: Fence | None = None
    ) -> ExecutionResult:
        """The revision moved past the one the request saw: the patch went in; follow it."""
        target = request.target
        try:
            current = await self._call(lambda: self._deployment(target))
        except (UnknownTargetError, ClusterError) as exc:
            raise ExecutionError(str(exc)) from None
        if str(revision_of(current)) == request.baseline_revision:
            raise NothingChangedError(
                f"`{target.label}` is still at revision {revision_of(current)}, as the plan found it"
            )
        live = ", ".join(images_of(current["spec"]["template"]))
        if request.to_identity is not None and live != request.to_identity:
            raise ExecutionError(
                f"`{target.label}` is at revision {revision_of(current)} running {live}, not "
                f"{request.to_identity} that this rollback set; rollbot did not touch it"
            )
        await progress(
            f"`{target.label}` is at revision {revision_of(current)}; following its rollout"
        )
        baseline = int(request.baseline_revision or revision_of(current))
        return await self.follow(target, baseline, current, progress)

    async def follow(
        self, target: TargetRef, was: int, patched: dict[str, Any], progress: Progress
    ) -> ExecutionResult:
        loop = asyncio.get_running_loop()

        async def say(line: str) -> None:
            await progress(line)

        reported: list[concurrent.futures.Future[None]] = []

        def report(line: str) -> None:
            # called from the watch thread; each line goes to the timeline in order
            reported.append(asyncio.run_coroutine_threadsafe(say(line), loop))

        try:
            final = await self._call(
                lambda: self._watch_sync(target, patched["metadata"]["resourceVersion"], report)
            )
        except ClusterError as exc:
            # the patch went in; only watching failed. Say so: no second rollback is attempted.
            raise ExecutionError(
                f"rollback patched but its progress could not be followed: {exc}"
            ) from None
        for future in reported:
            await asyncio.wrap_future(future)
        live = ", ".join(images_of(final["spec"]["template"]))
        await progress(f"live now: revision {revision_of(final)} (was {was}), image {live}")
        return ExecutionResult(
            from_revision=str(was),
            to_revision=str(revision_of(final)),
            detail=f"images {live}",
        )

    def _capture_sync(self, target: TargetRef) -> dict[str, Any]:
        deployment = self._deployment(target)
        replicasets = self._replicasets(deployment, target)
        captured = capture_deployment(
            self.api_for(target), target, deployment, replicasets, self.request_timeout
        )
        redacted: dict[str, Any] = redact(captured)
        return redacted

    async def capture(self, target: TargetRef) -> dict[str, Any]:
        return await self._call(lambda: self._capture_sync(target))

    async def readable(
        self, target: TargetRef, captured: Mapping[str, Any], window: EvidenceWindow
    ) -> ReadableEvidence:
        api = self.api_for(target)
        return await self._call(
            lambda: readable_deployment(api, captured, window, self.request_timeout)
        )
