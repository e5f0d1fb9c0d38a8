"""Running an approved rollback off the request path, exactly once, then verifying recovery.

StartExecution is a conditional transition: of all replicas and retries that try, one wins and
runs the executor; the others find the request has moved on and do nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

import structlog

from bot.domain import events as ev
from bot.domain.database_rollback import plan_change_reason
from bot.domain.errors import DomainError
from bot.domain.notices import TimelineEntry
from bot.domain.people import SYSTEM
from bot.domain.redaction import redact_text
from bot.domain.request import RequestState, RollbackRequest
from bot.ports import (
    Clock,
    ExecutionError,
    ExecutionResult,
    Executor,
    Fence,
    LeaseLostError,
    NothingChangedError,
    PlatformReview,
    Progress,
    Verifier,
)
from bot.store.due_items import DueKind
from bot.store.effects import record_event
from bot.store.engine import is_transient
from bot.store.uow import Committed, UnitOfWork
from bot.usecases.background import Background
from bot.usecases.evidence import EvidenceRecorder
from bot.usecases.leasing import Lease, LeaseKeeper, LeaseRules
from bot.usecases.transition import Transitions

log = structlog.get_logger("rollbot.execution")


class ExecutionRunner:
    def __init__(
        self,
        *,
        transitions: Transitions,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        executors: Mapping[str, Executor],
        verifier: Verifier,
        evidence: EvidenceRecorder,
        rules: LeaseRules | None = None,
    ) -> None:
        self._rules = rules or LeaseRules()
        self._leases = LeaseKeeper(uow, clock, transitions.lease, self._rules)
        self._transitions = transitions
        self._uow = uow
        self._clock = clock
        self._executors = executors
        self._verifier = verifier
        self._evidence = evidence
        self._background = Background()

    def on_commit(self, committed: Committed) -> None:
        """After a commit: start every rollback it approved, off the request path."""
        for request_id in dict.fromkeys(r.id for r, _ in committed.of_type(ev.ExecuteRollback)):
            self._background.spawn(self.run(request_id))

    async def drain(self) -> None:
        """Wait for every rollback started so far (tests and shutdown)."""
        await self._background.drain()

    async def _progress(
        self, request: RollbackRequest, lease: Lease, line: str | PlatformReview
    ) -> None:
        """A progress line on the timeline, written only while this process holds the lease.
        Best effort: a database hiccup loses the line, never the rollback. A platform review
        the rollback now waits on is recorded on the request itself (card, audit log)."""
        lease.progressed = self._clock.now()
        if isinstance(line, PlatformReview):
            opened = ev.PlatformReviewOpened(
                what=line.what, link=redact_text(line.link), why=redact_text(line.why)
            )
            await self._transitions.record_outcome(request.id, opened, fence=lease.token)
            return
        log.info("execution.step", request=request.id, target=request.target.label, line=line)
        try:
            async with self._uow() as uow:
                if await self._leases.held(uow, request.id, lease):
                    said = redact_text(line)  # a platform's words may quote a secret
                    line_notice = TimelineEntry(action="progress", details={"line": said})
                    await uow.outbox.notify(request, line_notice, self._clock.now())
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("progress_line_lost", request=request.id, line=line, error=repr(exc))

    async def run(self, request_id: str) -> None:
        """Re-read the target, and roll back only if it is still what the approvals were for."""
        transitions = self._transitions
        planned = await transitions.load(request_id)
        if planned.auto_approved and await transitions.withheld_unseen(
            planned, "execution.withheld", "auto-approved"
        ):
            return
        executor = self._executors[planned.target.kind]
        try:
            changed = await self._plan_change(planned, executor)
            event: ev.Event = changed or ev.StartExecution()
            request = await transitions.apply(request_id, event, seen_version=planned.version)
        except DomainError as exc:  # decided, cancelled or started elsewhere meanwhile
            log.info("execution_not_started", request=request_id, reason=str(exc))
            return
        if changed is not None:
            log.warning("plan_changed", request=request_id, reason=changed.reason)
            return
        # held from the start: a slow evidence capture must not let the lease lapse
        async with self._leases.hold(request_id) as lease:
            await self._evidence.before(request)
            await self._carry_out(request, executor.execute, lease)

    async def _plan_change(
        self,
        request: RollbackRequest,
        executor: Executor,
        required: RequestState = RequestState.APPROVED,
    ) -> ev.PlanChanged | None:
        """The preflight again, right before execution: None when the plan still stands."""
        if request.state is not required:
            return None  # StartExecution refuses it, with the reason
        try:
            fresh = await executor.preflight(
                request.target, request.requested_revision, request.requested_migration
            )
        except Exception as exc:  # unreadable is not unchanged: never act on a plan unchecked
            log.warning("plan_unreadable", request=request.id, error=repr(exc))
            return ev.PlanChanged(
                live_revision=None,
                to_revision=None,
                preflight=None,
                reason=f"rollbot could not read {request.target.label} before rolling back ({exc})",
            )
        if (fresh.live_revision, fresh.to_revision, fresh.database) == (
            request.baseline_revision,
            request.to_revision,
            request.database_plan,
        ):
            return None
        return ev.PlanChanged(
            live_revision=fresh.live_revision,
            to_revision=fresh.to_revision,
            preflight=fresh.summary,
            live_identity=fresh.live_identity,
            to_identity=fresh.to_identity,
            database_plan=fresh.database,
            reason=plan_change_reason(
                request.baseline_revision,
                request.database_plan,
                request.target.label,
                (fresh.live_revision, fresh.to_revision, fresh.database),
            ),
        )

    async def resume(self, request_id: str) -> None:
        """Take over a rollback whose process stopped renewing its lease: follow it from the
        target's real state, never redo a change that is there."""
        async with self._uow() as uow:
            request = await uow.requests.get(request_id)
            if request.state not in (RequestState.EXECUTING, RequestState.VERIFYING):
                await uow.due.close(DueKind.EXECUTION_LEASE, request_id, self._clock.now())
                return
            await record_event(
                uow,
                request,
                self._clock.now(),
                actor=SYSTEM,
                action="execution.resumed",
                payload={"state": request.state.value},
                timeline="resumed",
                details={"state": request.state.value.replace("_", " ")},
            )
        async with self._leases.hold(request.id) as lease:
            if request.state is RequestState.EXECUTING:
                await self._carry_out(request, self._take_over, lease)
                return
            try:
                await self.verify(request, lease)
            except DomainError as exc:  # taken over again meanwhile
                log.warning("outcome_not_recorded", request=request.id, reason=str(exc))
                return
        await self._evidence.finish(request_id)

    async def _take_over(
        self, request: RollbackRequest, progress: Progress, fence: Fence
    ) -> ExecutionResult:
        """The target and the record decide: a change that is there is followed; a change that
        was sent and is not there fails the rollback for a person to look at; a target nobody
        sent a change to is rolled back now, if the plan still stands (the previous holder's
        fence refuses it any change from the moment it lost the lease)."""
        executor = self._executors[request.target.kind]
        try:
            return await executor.resume(request, progress, fence)
        except NothingChangedError as exc:
            untouched = exc
        sent = await self._leases.change_sent(request.id)
        if sent is not None:
            # The previous holder sent its change; it may still be on its way: wait until it
            # has landed or timed out, then look again. It is never sent a second time.
            await asyncio.sleep(self._rules.grace.total_seconds())
            try:
                return await executor.resume(request, progress, fence)
            except NothingChangedError as exc:
                raise ExecutionError(
                    f"{exc}, although rollbot sent the change at {sent:%H:%M:%S} UTC: it did not "
                    "land, or something reverted it. rollbot never sends a rollback twice; check "
                    f"`{request.target.label}` by hand and request the rollback again if it is "
                    "still needed"
                ) from None
        # No change was sent, and none can be now: the previous holder's fence refuses it.
        changed = await self._plan_change(request, executor, required=RequestState.EXECUTING)
        if changed is not None:
            raise ExecutionError(
                f"{untouched}; the plan no longer stands, so nothing was rolled back: "
                f"{changed.reason}. Request the rollback again"
            )
        await progress(
            f"{untouched}; the plan is unchanged, so rollbot carries out the approved rollback now"
        )
        return await executor.execute(request, progress, fence)

    async def _carry_out(
        self,
        request: RollbackRequest,
        action: Callable[[RollbackRequest, Progress, Fence], Awaitable[ExecutionResult]],
        lease: Lease,
    ) -> None:
        """Run the executor and record what it did, as long as this process holds the lease."""
        if lease.lost:  # another process follows this rollback now: never touch the target
            log.warning("lease_lost_before_rollout", request=request.id)
            return
        try:
            await self._outcome(request, action, lease)
        except (DomainError, LeaseLostError) as exc:  # taken over: the new holder records it
            log.warning("outcome_not_recorded", request=request.id, reason=str(exc))
            lease.lost = True
            return
        await self._evidence.finish(request.id)

    async def _outcome(
        self,
        request: RollbackRequest,
        action: Callable[[RollbackRequest, Progress, Fence], Awaitable[ExecutionResult]],
        lease: Lease,
    ) -> None:
        transitions, request_id = self._transitions, request.id
        fence = self._leases.fence(request, lease)
        try:
            result = await action(request, lambda line: self._progress(request, lease, line), fence)
        except LeaseLostError:
            raise
        except ExecutionError as exc:
            failed = ev.ExecutionFailed(reason=redact_text(str(exc)))
            await transitions.record_outcome(request_id, failed, fence=lease.token)
        except Exception as exc:  # an executor bug must still end the request visibly
            correlation = uuid.uuid4().hex[:12]
            log.error(
                "executor_crashed",
                request=request_id,
                correlation_id=correlation,
                error=repr(exc),
                exc_info=exc,
            )
            # the details stay in the log; the channel gets what to quote
            failed = ev.ExecutionFailed(
                reason=f"rollbot hit an internal error (correlation id {correlation}); "
                f"check `{request.target.label}` by hand before acting"
            )
            await transitions.record_outcome(request_id, failed, fence=lease.token)
        else:
            succeeded = ev.ExecutionSucceeded(to_revision=result.to_revision)
            recorded = await transitions.record_outcome(request_id, succeeded, fence=lease.token)
            await self.verify(recorded, lease)

    async def verify(self, request: RollbackRequest, lease: Lease | None = None) -> None:
        if request.state is not RequestState.VERIFYING:
            return
        outcome = await self._verifier.verify(request)
        event: ev.Event
        if not outcome.ran:  # nothing proved or disproved recovery: say so, never "passed"
            event = ev.VerificationSkipped(summary=outcome.summary, checks=outcome.checks)
        elif outcome.passed:
            event = ev.VerificationPassed(summary=outcome.summary, checks=outcome.checks)
        else:
            event = ev.VerificationFailed(reason=outcome.summary, checks=outcome.checks)
        fence = lease.token if lease is not None else None
        await self._transitions.record_outcome(request.id, event, fence=fence)

    @property
    def lease(self) -> timedelta:
        return self._transitions.lease

    def running(self) -> list[asyncio.Task[None]]:
        """Rollbacks this process is carrying out now."""
        return self._background.running()

    def resume_in_background(self, request_id: str) -> None:
        self._background.spawn(self.resume(request_id))
