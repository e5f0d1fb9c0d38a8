"""A scripted executor and verifier for the demo and the Slack workflow tests.

It implements the same ports the Kubernetes executor will: targets with a revision history,
rollback to the previous or a chosen revision, failures on demand. Nothing here is real
infrastructure; it stands in until the sandbox cluster answers for deployments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
    VerificationResult,
)


@dataclass
class ScriptedTarget:
    revisions: list[str]
    live: str
    images: dict[str, str] = field(default_factory=dict)
    fail_with: str | None = None
    crash_with: str | None = None
    # Set: the rollout is under way but does not finish until the event is set (a slow rollout,
    # or a process that dies in the middle of one).
    hold: asyncio.Event | None = None
    # Config keys the rollback changes (ConfigMaps), for the security review.
    changed_keys: tuple[str, ...] = ()
    # Set: reading the target's state as evidence waits for it (a slow API server).
    capture_hold: asyncio.Event | None = None
    capturing: bool = False
    # Set: the change waits for it before it is sent (a slow API server in front of the patch).
    change_hold: asyncio.Event | None = None
    changing: bool = False
    # What the readable evidence could not read (a log service that is down), for the manifest.
    evidence_gaps: list[str] = field(default_factory=list)


def _key(target: TargetRef) -> str:
    return target.label


class ScriptedExecutor:
    def __init__(self, targets: dict[str, ScriptedTarget] | None = None) -> None:
        self.targets = targets if targets is not None else demo_catalog()
        self.executions: list[str] = []
        # (the request as executed, revision it changed from, revision it changed to), one per
        # change made to a target
        self.changes: list[tuple[RollbackRequest, str, str]] = []

    def _get(self, target: TargetRef) -> ScriptedTarget:
        found = self.targets.get(_key(target))
        if found is None:
            raise UnknownTargetError(
                f"`{target.label}` was not found; check the kind, name and namespace"
            )
        return found

    def _to(self, state: ScriptedTarget, target: TargetRef, to_revision: str | None) -> str:
        if to_revision is not None:
            if to_revision not in state.revisions:
                raise UnknownTargetError(f"`{target.label}` has no revision {to_revision}")
            return to_revision
        earlier = [r for r in state.revisions if int(r) < int(state.live)]
        if not earlier:
            raise UnknownTargetError(f"`{target.label}` has no revision before {state.live}")
        return earlier[-1]

    async def preflight(
        self, target: TargetRef, to_revision: str | None, to_migration: str | None = None
    ) -> Preflight:
        state = self._get(target)
        to = self._to(state, target, to_revision)
        image = f"{state.images.get(state.live, '?')} → {state.images.get(to, '?')}"
        changes = tuple(f"key {k}" for k in state.changed_keys)
        if state.images:
            changes = (f"image {image}", *changes)
        return Preflight(
            live_revision=state.live,
            to_revision=to,
            summary=f"revision {state.live} → {to}: {image}",
            changes=changes,
            live_identity=state.images.get(state.live),
            to_identity=state.images.get(to),
        )

    async def capture(self, target: TargetRef) -> dict[str, Any]:
        state = self._get(target)
        if state.capture_hold is not None:
            state.capturing = True
            await state.capture_hold.wait()
            state.capturing = False
        return {
            "target": target.label,
            "revision": state.live,
            "image": state.images.get(state.live),
            "history": list(state.revisions),
        }

    async def readable(
        self, target: TargetRef, captured: Mapping[str, Any], window: EvidenceWindow
    ) -> ReadableEvidence:
        """The in-memory target has no describe output and no logs; a test may plant a gap."""
        state = self._get(target)
        line = f"revision {captured.get('revision')}, image {captured.get('image')}\n"
        return ReadableEvidence(
            files={f"target-{window.moment.value}.txt": line}, gaps=tuple(state.evidence_gaps)
        )

    async def live_revision(self, target: TargetRef) -> str | None:
        return self._get(target).live

    async def execute(
        self, request: RollbackRequest, progress: Progress, fence: Fence
    ) -> ExecutionResult:
        state = self._get(request.target)
        to = self._to(state, request.target, request.to_revision)
        await progress(f"rolling `{request.target.label}` back from revision {state.live} to {to}")
        if state.change_hold is not None:  # one caller waits: the slow one
            hold, state.change_hold, state.changing = state.change_hold, None, True
            await hold.wait()
            state.changing = False
        await fence()
        if request.baseline_revision is not None and state.live != request.baseline_revision:
            # as the Kubernetes executor: a target that moved since the plan is never changed
            raise ExecutionError(
                f"`{request.target.label}` moved to revision {state.live} while the rollback "
                f"started (the plan was from revision {request.baseline_revision}); not changed"
            )
        self.executions.append(request.id)  # the change is sent: counted once per change
        self.changes.append((request, state.live, to))
        if state.crash_with:
            raise RuntimeError(state.crash_with)
        if state.fail_with:
            raise ExecutionError(state.fail_with)
        was, state.live = state.live, to
        if state.hold is not None:
            await state.hold.wait()
        await progress(f"rollout complete: {state.images.get(to, 'revision ' + to)} serving")
        return ExecutionResult(from_revision=was, to_revision=to, detail="rollout complete")

    async def resume(
        self, request: RollbackRequest, progress: Progress, fence: Fence | None = None
    ) -> ExecutionResult:
        state = self._get(request.target)
        if state.live == request.baseline_revision:
            raise NothingChangedError(
                f"`{request.target.label}` is still at revision {state.live}, as the plan found it"
            )
        if state.live != request.to_revision:
            raise ExecutionError(
                f"`{request.target.label}` is at revision {state.live}, which this rollback did "
                f"not set (it set {request.to_revision}); rollbot did not touch it"
            )
        await progress(f"`{request.target.label}` is at revision {state.live}; rollout complete")
        return ExecutionResult(
            from_revision=request.baseline_revision, to_revision=state.live, detail="resumed"
        )


class ScriptedVerifier:
    def __init__(self) -> None:
        self.failing: dict[str, str] = {}

    async def verify(self, request: RollbackRequest) -> VerificationResult:
        problem = self.failing.get(request.target.label)
        if problem:
            return VerificationResult(
                passed=False, summary=problem, checks={"health_check": "failed 1/1"}
            )
        return VerificationResult(
            passed=True,
            summary="health checks green, error rate back to baseline",
            checks={"health_check": "passed 1/1"},
        )


def demo_catalog() -> dict[str, ScriptedTarget]:
    return {
        "deployment/api -n prod": ScriptedTarget(
            revisions=["1", "2", "3"],
            live="3",
            images={"1": "api:1.2.2", "2": "api:1.2.3", "3": "api:1.3.0"},
        ),
        "deployment/web -n prod": ScriptedTarget(
            revisions=["4", "5"], live="5", images={"4": "web:2.0.1", "5": "web:2.1.0"}
        ),
        "deployment/api -n default": ScriptedTarget(revisions=["1", "2"], live="2"),
        "configmap/api-config -n prod": ScriptedTarget(
            revisions=["1", "2"], live="2", changed_keys=("OAUTH_ISSUER", "LOG_LEVEL")
        ),
        "deployment/payments -n prod": ScriptedTarget(revisions=["1", "2"], live="2"),
    }
