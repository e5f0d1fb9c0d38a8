"""Due work driven by a clock tick: the automatic rollback when nobody decides in time (seed 001
§2 Phase 5), re-checks of recovery in the watch window, reminders of obligations, and evidence
packs whose upload failed. All of it is rows in the database, so a restart loses none of it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.domain import events as ev
from bot.domain.errors import DomainError
from bot.domain.request import RequestState
from bot.duework.reminders import Reminders
from bot.duework.watch import RecoveryWatch
from bot.ports import Clock
from bot.store.due_items import DueKind
from bot.store.uow import UnitOfWork
from bot.usecases.evidence import EvidenceRecorder
from bot.usecases.execution import ExecutionRunner
from bot.usecases.transition import Transitions

log = structlog.get_logger("rollbot.scheduler")
TICK_SECONDS = 15


class DueWork:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        transitions: Transitions,
        evidence: EvidenceRecorder,
        reminders: Reminders,
        watch: RecoveryWatch,
        executions: ExecutionRunner,
        tick_seconds: float = TICK_SECONDS,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._transitions = transitions
        self._evidence = evidence
        self._reminders = reminders
        self._watch = watch
        self._executions = executions
        self._tick_seconds = tick_seconds
        self._scheduler: AsyncIOScheduler | None = None

    async def tick(self) -> int:
        """Fire every decision timeout that is due; return how many requests it moved.

        Each is a conditional transition, so replicas ticking at once fire it exactly once; the
        due item is closed after the attempt, so a crash in between only repeats a refused try."""
        now = self._clock.now()
        async with self._uow() as uow:
            claimed = await uow.due.claim(now, limit=100, kinds=(DueKind.DECISION_TIMEOUT,))
            due = [(item.id, item.request_id, item.stage) for item in claimed]
        fired = 0
        for item_id, request_id, stage in due:
            try:
                request = await self._transitions.load(request_id)
                if request.state is RequestState.AWAITING_DECISION:
                    await self._transitions.apply(request_id, ev.DecisionTimedOut())
                    fired += 1
            except DomainError as exc:  # someone decided, or another replica fired it first
                log.info("decision_timeout_skipped", request=request_id, reason=str(exc))
            assert item_id is not None
            async with self._uow() as uow:
                await uow.due.advance(item_id, stage, next_due=None, done=now)
        return fired

    async def reclaim_rollbacks(self) -> int:
        """Rollbacks whose process stopped renewing its lease (it died): follow them up here.

        The lease is pushed on as it is claimed, so one process takes each; resuming only
        follows what was started and never changes the target again."""
        now = self._clock.now()
        taken: list[str] = []
        async with self._uow() as uow:
            for item in await uow.due.claim(now, limit=20, kinds=(DueKind.EXECUTION_LEASE,)):
                assert item.id is not None
                renewed = now + self._executions.lease
                if await uow.due.advance(item.id, item.stage, next_due=renewed, done=None):
                    taken.append(item.request_id)
        for request_id in taken:
            log.warning("rollback_reclaimed", request=request_id)
            self._executions.resume_in_background(request_id)
        return len(taken)

    async def run_once(self) -> None:
        """Everything that is due now, in the order an incident needs it."""
        await self.reclaim_rollbacks()
        await self.tick()
        await self._watch.tick()
        await self._evidence.retry_pending()
        await self._reminders.tick()

    async def _safe_tick(self) -> None:
        try:
            await self.run_once()
        except Exception as exc:  # the schedule must outlive one bad tick
            log.error("tick_failed", error=repr(exc), exc_info=exc)

    def start(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._scheduler.add_job(
            self._safe_tick,
            "interval",
            seconds=self._tick_seconds,
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler is not None:
            with contextlib.suppress(Exception):
                self._scheduler.shutdown(wait=False)
            self._scheduler = None
