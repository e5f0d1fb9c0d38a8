"""Running an approved rollback off the request path, exactly once, then verifying recovery.

StartExecution is a conditional transition: of all replicas and retries that try, one wins and
runs the executor; the others find the request has moved on and do nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from bot.domain import events as ev
from bot.domain.errors import DomainError
from bot.domain.notices import TimelineEntry
from bot.domain.people import SYSTEM
from bot.domain.request import RequestState, RollbackRequest
from bot.ports import Clock, ExecutionError, ExecutionResult, Executor, Progress, Verifier
from bot.store.due_items import DueKind
from bot.store.effects import record_event
from bot.store.engine import is_transient
from bot.store.uow import Committed, UnitOfWork
from bot.usecases.evidence import EvidenceRecorder
from bot.usecases.transition import Transitions

log = structlog.get_logger("rollbot.execution")


@dataclass
class Lease:
    """This process's hold on a rollback: the fencing token it renews on, and whether a
    renewal found that another process had taken it over."""

    token: int | None
    lost: bool = False


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
    ) -> None:
        self._transitions = transitions
        self._uow = uow
        self._clock = clock
        self._executors = executors
        self._verifier = verifier
        self._evidence = evidence
        self._tasks: set[asyncio.Task[None]] = set()

    def on_commit(self, committed: Committed) -> None:
        """After a commit: start every rollback it approved, off the request path."""
        for request_id in dict.fromkeys(r.id for r, _ in committed.of_type(ev.ExecuteRollback)):
            self._spawn(self.run(request_id))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run in the background, kept until done so drain() and shutdown can wait for it."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every rollback started so far (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _progress(self, request: RollbackRequest, line: str) -> None:
        """A progress line on the timeline. Best effort: a database hiccup loses the line, never
        the rollback."""
        try:
            async with self._uow() as uow:
                line_notice = TimelineEntry(action="progress", details={"line": line})
                await uow.outbox.notify(request, line_notice, self._clock.now())
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("progress_line_lost", request=request.id, line=line, error=repr(exc))

    async def run(self, request_id: str) -> None:
        """Re-read the target, and roll back only if it is still what the approvals were for."""
        transitions = self._transitions
        planned = await transitions.load(request_id)
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
        async with self._lease(request_id) as lease:
            await self._evidence.before(request)
            await self._carry_out(request, executor.execute, lease)

    async def _plan_change(
        self, request: RollbackRequest, executor: Executor
    ) -> ev.PlanChanged | None:
        """The preflight again, right before execution: None when the plan still stands."""
        if request.state is not RequestState.APPROVED:
            return None  # StartExecution refuses it, with the reason
        try:
            fresh = await executor.preflight(request.target, request.requested_revision)
        except Exception as exc:  # unreadable is not unchanged: never act on a plan unchecked
            log.warning("plan_unreadable", request=request.id, error=repr(exc))
            return ev.PlanChanged(
                live_revision=None,
                to_revision=None,
                preflight=None,
                reason=f"rollbot could not read {request.target.label} before rolling back ({exc})",
            )
        if (fresh.live_revision, fresh.to_revision) == (
            request.baseline_revision,
            request.to_revision,
        ):
            return None
        return ev.PlanChanged(
            live_revision=fresh.live_revision,
            to_revision=fresh.to_revision,
            preflight=fresh.summary,
            live_identity=fresh.live_identity,
            to_identity=fresh.to_identity,
            reason=(
                f"{request.target.label} now runs revision {fresh.live_revision or 'unknown'}, "
                f"not revision {request.baseline_revision or 'unknown'} the approvals were given "
                f"for; the plan is now revision {fresh.live_revision or '?'} → "
                f"{fresh.to_revision or '?'}"
            ),
        )

    async def resume(self, request_id: str) -> None:
        """Finish a rollback whose process died (its lease fell due): follow it, never redo it."""
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
        if request.state is RequestState.EXECUTING:
            executor = self._executors[request.target.kind]
            async with self._lease(request.id) as lease:
                await self._carry_out(request, executor.resume, lease)
        else:
            async with self._lease(request.id):
                await self.verify(request)
            await self._evidence.finish(request_id)

    @contextlib.asynccontextmanager
    async def _lease(self, request_id: str) -> AsyncIterator[Lease]:
        """Hold the execution lease while this process works on the request: renewed on the
        fencing token read at the start, and marked lost the moment a renewal finds that
        another process took the rollback over."""
        async with self._uow() as uow:
            held = Lease(await uow.due.stage_of(DueKind.EXECUTION_LEASE, request_id))

        async def renew() -> None:
            lease = self._transitions.lease
            while not held.lost:
                await asyncio.sleep(lease.total_seconds() / 3)
                async with self._uow() as uow:
                    renewed = await uow.due.extend(
                        DueKind.EXECUTION_LEASE,
                        request_id,
                        self._clock.now() + lease,
                        stage=held.token,
                    )
                if not renewed:
                    held.lost = True
                    log.warning("lease_lost", request=request_id)

        task = asyncio.get_running_loop().create_task(renew())
        try:
            yield held
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _carry_out(
        self,
        request: RollbackRequest,
        action: Callable[[RollbackRequest, Progress], Awaitable[ExecutionResult]],
        lease: Lease,
    ) -> None:
        """Run the executor and record what it did, as long as this process holds the lease."""
        if lease.lost:  # another process follows this rollback now: never touch the target
            log.warning("lease_lost_before_rollout", request=request.id)
            return
        try:
            await self._outcome(request, action)
        except DomainError as exc:  # taken over meanwhile: the new owner records the outcome
            log.warning("outcome_not_recorded", request=request.id, reason=str(exc))
            return

    async def _outcome(
        self,
        request: RollbackRequest,
        action: Callable[[RollbackRequest, Progress], Awaitable[ExecutionResult]],
    ) -> None:
        transitions, request_id = self._transitions, request.id
        try:
            result = await action(request, lambda line: self._progress(request, line))
        except ExecutionError as exc:
            await transitions.record_outcome(request_id, ev.ExecutionFailed(reason=str(exc)))
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
            await transitions.record_outcome(request_id, failed)
        else:
            succeeded = ev.ExecutionSucceeded(to_revision=result.to_revision)
            await self.verify(await transitions.record_outcome(request_id, succeeded))
        await self._evidence.finish(request_id)

    async def verify(self, request: RollbackRequest) -> None:
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
        await self._transitions.record_outcome(request.id, event)

    @property
    def lease(self) -> timedelta:
        return self._transitions.lease

    def running(self) -> list[asyncio.Task[None]]:
        """Rollbacks this process is carrying out now."""
        return list(self._tasks)

    def resume_in_background(self, request_id: str) -> None:
        self._spawn(self.resume(request_id))
