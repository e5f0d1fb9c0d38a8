"""Due work driven by a clock tick. So far: the automatic rollback when nobody decides in time
(seed 001 §2 Phase 5), and evidence packs whose upload failed. Reminders and retroactive
approvals join them with their issue."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.domain import events as ev
from bot.domain.errors import DomainError
from bot.domain.request import RequestState
from bot.evidence_flow import EvidenceRecorder
from bot.flows import Transitions
from bot.ports import Clock
from bot.reminders import Reminders
from bot.store.uow import UnitOfWork

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
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._transitions = transitions
        self._evidence = evidence
        self._reminders = reminders
        self._scheduler: AsyncIOScheduler | None = None

    async def tick(self) -> int:
        """Fire every decision timeout that is due; return how many requests it moved.

        Each is a conditional transition, so replicas ticking at once fire it exactly once."""
        now = self._clock.now()
        async with self._uow() as uow:
            waiting = await uow.requests.in_state(RequestState.AWAITING_DECISION.value)
        fired = 0
        for request in waiting:
            if request.decision_deadline is None or request.decision_deadline > now:
                continue
            try:
                await self._transitions.apply(
                    request.id, ev.DecisionTimedOut(), seen_version=request.version
                )
            except DomainError as exc:  # someone decided, or another replica fired it first
                log.info("decision_timeout_skipped", request=request.id, reason=str(exc))
                continue
            fired += 1
        return fired

    async def _safe_tick(self) -> None:
        try:
            await self.tick()
            await self._evidence.retry_pending()
            await self._reminders.tick()
        except Exception as exc:  # the schedule must outlive one bad tick
            log.error("tick_failed", error=repr(exc), exc_info=exc)

    def start(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._scheduler.add_job(
            self._safe_tick, "interval", seconds=TICK_SECONDS, max_instances=1, coalesce=True
        )
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler is not None:
            with contextlib.suppress(Exception):
                self._scheduler.shutdown(wait=False)
            self._scheduler = None
