"""Due work driven by a clock tick: the automatic rollback when nobody decides in time (the incident response standard's
"decision" phase), re-checks of recovery in the watch window, reminders of obligations, and evidence
packs whose upload failed. All of it is rows in the database, so a restart loses none of it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.duework.decision_timeout import DecisionTimeouts
from bot.duework.leases import RollbackLeases
from bot.duework.reminders import Reminders
from bot.duework.watch import RecoveryWatch
from bot.ports import Clock
from bot.store.uow import UnitOfWork
from bot.usecases.addenda import AddendumRetries
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
        self.timeouts = DecisionTimeouts(uow, clock, transitions)
        self.leases = RollbackLeases(uow, clock, executions)
        self._evidence = evidence
        self._reminders = reminders
        self._watch = watch
        # addenda the evidence store refused, tried again (set by the composition root)
        self.addenda: AddendumRetries | None = None
        self._tick_seconds = tick_seconds
        self._scheduler: AsyncIOScheduler | None = None
        self._heartbeats: list[Callable[[], None]] = []
        # monotonic times, for /readyz: when this process started its schedule, last finished
        self.started_at: float | None = None
        self.last_tick_at: float | None = None

    def on_tick(self, heartbeat: Callable[[], None]) -> None:
        """Called after every tick that finished: /metrics shows when the last one did."""
        self._heartbeats.append(heartbeat)

    async def run_once(self) -> None:
        """Everything that is due now, in the order an incident needs it."""
        await self.leases.reclaim()
        await self.timeouts.tick()
        await self._watch.tick()
        await self._evidence.retry_pending()
        if self.addenda is not None:
            await self.addenda.tick()
        await self._reminders.tick()

    async def tick(self) -> None:
        """One scheduled tick: what is due runs; a failure is logged, never fatal."""
        try:
            await self.run_once()
        except Exception as exc:  # the schedule must outlive one bad tick
            log.error("tick_failed", error=repr(exc), exc_info=exc)
            return
        self.last_tick_at = time.monotonic()
        for heartbeat in self._heartbeats:
            heartbeat()

    def stalled(self) -> str | None:
        """Why the schedule looks stuck (no tick for three intervals), or None; a process that
        does not run it is never stalled."""
        if self.started_at is None:
            return None
        last = self.last_tick_at or self.started_at
        quiet = time.monotonic() - last
        if quiet > 3 * self._tick_seconds:
            return (
                f"no scheduler tick for {quiet:.0f} s (one every {self._tick_seconds:g} s expected)"
            )
        return None

    def start(self) -> None:
        self.started_at = time.monotonic()
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._scheduler.add_job(
            self.tick,
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
