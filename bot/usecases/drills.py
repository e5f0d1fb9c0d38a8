"""Running a rollback drill: the real executor and the service's checks, against an environment
the policy marks for drills, and the record an auditor reads as "rollback readiness through
testing". Every step is a transition of the drill, stored with its audit entry in one unit of
work; the evidence pack holds the record and the target's state before and after."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import structlog

from bot.domain import drills as dr
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy
from bot.domain.request import RequestRules, RollbackRequest, TargetRef
from bot.domain.severity import Severity, SeverityAssessment
from bot.domain.targets import rollback_type_for
from bot.ports import (
    AdapterError,
    Clock,
    EvidenceStore,
    ExecutionError,
    Executor,
    PlatformReview,
    Preflight,
    Verifier,
)
from bot.store.uow import UnitOfWork

log = structlog.get_logger("rollbot.drills")
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
Say = Callable[[str], Awaitable[None]]


async def _quiet(line: str) -> None:
    """No one to tell (tests): progress still goes to the log."""


async def _no_fence() -> None:
    """A drill runs in the process that started it; there is no lease to lose."""


def new_drill_id() -> str:
    return "DR-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


class DrillRunner:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        policy: ApprovalPolicy,
        executors: Mapping[str, Executor],
        verifier: Verifier,
        store: EvidenceStore,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy
        self._executors = executors
        self._verifier = verifier
        self._store = store

    def _context(self, target: TargetRef) -> str | None:
        return self._policy.service(target.name).kube_context

    async def start(self, target: TargetRef, by: Person) -> tuple[dr.Drill, Preflight]:
        """Check the drill may run and plan it; DrillRefusedError or AdapterError otherwise,
        and nothing is stored."""
        why = dr.refusal(target, self._policy.drills, self._context(target))
        if why is not None:
            raise dr.DrillRefusedError(why)
        executor = self._executors.get(target.kind)
        if executor is None:
            raise dr.DrillRefusedError(f"rollbot has no executor for {target.kind} targets here")
        async with self._uow() as uow:
            running = [
                d
                for d in await uow.drills.of_target(target.kind, target.name)
                if d.state is dr.DrillState.RUNNING and d.target == target
            ]
        if running:
            raise dr.DrillRefusedError(
                f"drill {running[0].id} of `{target.label}` is still running"
            )
        plan = await executor.preflight(target, None)
        now = self._clock.now()
        drill = dr.Drill(
            id=new_drill_id(),
            target=target,
            environment=target.namespace or self._context(target) or target.label,
            requested_by=by,
            started_at=now,
            target_time=self._policy.drills.target,
            start_revision=plan.live_revision,
            start_identity=plan.live_identity,
            previous_revision=plan.to_revision,
            previous_identity=plan.to_identity,
        )
        async with self._uow() as uow:
            await uow.drills.add(drill)
            await self._audit(uow, drill, by, "drill.started", {"plan": plan.summary})
        return drill, plan

    async def run(self, target: TargetRef, by: Person, say: Say = _quiet) -> dr.Drill:
        """The whole drill; returns its record whether it passed or failed."""
        drill, plan = await self.start(target, by)
        executor = self._executors[target.kind]
        await say(f"drill {drill.id} of `{target.label}` started: {plan.summary}")
        before = await self._capture(executor, target)
        drill = await self._roll(drill, executor, plan, say)
        if drill.state is dr.DrillState.RUNNING:
            drill = await self._check(drill, say)
        if drill.state is dr.DrillState.RUNNING:
            drill = await self._roll_forward(drill, executor, say)
        if drill.state is dr.DrillState.RUNNING:
            drill = await self._check(drill, say)
        after = await self._capture(executor, target)
        await self._pack(drill, before, after)
        return drill

    async def _roll(
        self, drill: dr.Drill, executor: Executor, plan: Preflight, say: Say
    ) -> dr.Drill:
        """One rollout with the real executor, from what runs to what the plan named."""
        change = self._as_change(drill, plan)

        async def progress(line: str | PlatformReview) -> None:
            said = line if isinstance(line, str) else f"{line.what}: {line.link}"
            log.info("drill.progress", drill=drill.id, line=said)
            await say(said)

        try:
            await executor.execute(change, progress, _no_fence)
        except (ExecutionError, AdapterError) as exc:
            return await self._step(drill, dr.StepFailed(at=self._clock.now(), reason=str(exc)))
        at = self._clock.now()
        live = await self._live(executor, drill.target)
        revision = live.live_revision if live else plan.to_revision
        identity = live.live_identity if live else None
        event = dr.RolledOut(at=at, revision=revision or "?", identity=identity)
        return await self._step(drill, event)

    async def _roll_forward(self, drill: dr.Drill, executor: Executor, say: Say) -> dr.Drill:
        await say(f"rolling `{drill.target.label}` forward to revision {drill.start_revision}")
        try:
            plan = await executor.preflight(drill.target, drill.start_revision)
        except AdapterError as exc:
            return await self._step(drill, dr.StepFailed(at=self._clock.now(), reason=str(exc)))
        return await self._roll(drill, executor, plan, say)

    async def _live(self, executor: Executor, target: TargetRef) -> Preflight | None:
        """What runs now, read again (never assumed from the plan)."""
        try:
            return await executor.preflight(target, None)
        except AdapterError as exc:
            log.warning("drill.live_unread", target=target.label, error=str(exc))
            return None

    async def _check(self, drill: dr.Drill, say: Say) -> dr.Drill:
        outcome = await self._verifier.verify(self._as_change(drill, None))
        event = dr.Checked(
            at=self._clock.now(),
            passed=outcome.passed,
            summary=outcome.summary,
            checks=outcome.checks,
            ran=outcome.ran,
        )
        moved = await self._step(drill, event)
        await say(f"{drill.step.said}: {outcome.summary}")
        return moved

    async def _step(self, drill: dr.Drill, event: dr.DrillEvent) -> dr.Drill:
        moved = dr.apply(drill, event)
        async with self._uow() as uow:
            await uow.drills.save(moved, expected_version=drill.version)
            payload: dict[str, Any] = {"step": drill.step.value, **event.model_dump(mode="json")}
            action = f"drill.{type(event).__name__}"
            await self._audit(uow, moved, moved.requested_by, action, payload)
            if moved.state is not dr.DrillState.RUNNING:
                await self._audit(
                    uow,
                    moved,
                    moved.requested_by,
                    f"drill.{moved.state.value}",
                    {
                        "failure": moved.failure,
                        "time_to_rolled_out_s": _seconds(moved.rolled_back_at, moved.started_at),
                        "time_to_verified_s": _seconds(
                            moved.rollback_verified_at, moved.started_at
                        ),
                    },
                )
        return moved

    async def _audit(
        self, uow: UnitOfWork, drill: dr.Drill, by: Person, action: str, payload: dict[str, Any]
    ) -> None:
        await uow.audit.append(
            at=self._clock.now(),
            actor=by,
            action=action,
            request_id=drill.id,
            incident_id=None,
            payload={"target": drill.target.label, "version": drill.version, **payload},
        )

    def _as_change(self, drill: dr.Drill, plan: Preflight | None) -> RollbackRequest:
        """The executor's and verifier's view of one step: a rollback of the drill's target
        from what runs to what the plan names, auto-approved by nobody (nothing is broken)."""
        kind = rollback_type_for(drill.target, None)
        return RollbackRequest(
            id=drill.id,
            channel="",
            requester=drill.requested_by,
            target=drill.target,
            rollback_type=kind,
            assessment=SeverityAssessment(computed=Severity.P4, reason="rollback drill"),
            rules=RequestRules(row=self._policy.row(kind), deadlines=self._policy.deadlines),
            reason=f"rollback drill {drill.id}",
            created_at=drill.started_at,
            updated_at=self._clock.now(),
            baseline_revision=plan.live_revision if plan else None,
            to_revision=plan.to_revision if plan else None,
            baseline_identity=plan.live_identity if plan else None,
            to_identity=plan.to_identity if plan else None,
        )

    async def _capture(self, executor: Executor, target: TargetRef) -> dict[str, Any]:
        try:
            return await executor.capture(target)
        except Exception as exc:  # evidence, not a step: the gap is named in the pack
            return {"not_captured": str(exc)}

    async def _pack(self, drill: dr.Drill, before: Any, after: Any) -> None:
        """drill.json, the target before and after, and a manifest of their SHA-256."""
        files = {
            "drill.json": _dumps(drill.model_dump(mode="json")),
            "target-before.json": _dumps(before),
            "target-after.json": _dumps(after),
        }
        files["manifest.json"] = _dumps(
            {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
        )
        try:
            for name, data in files.items():
                await self._store.put(f"drills/{drill.id}/{name}", data)
        except Exception as exc:  # the record and its audit entries stand without the pack
            log.error("drill.pack_not_stored", drill=drill.id, error=repr(exc))


def _seconds(at: datetime | None, since: datetime) -> float | None:
    return None if at is None else round((at - since).total_seconds(), 3)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True, default=str).encode()
