"""The watch after a verified rollback (the change management guide "monitor for 30 minutes").

Every interval of the policy's window the verifier runs again; a beat that comes late (a slow
tick, a restart) still runs, once. A passed re-check is audited and
noted on the timeline; a failed one is a RecoveryDrifted transition (failed, escalated). Each
re-check is claimed and moved on before it runs, so replicas never run one twice; a crash in the
middle loses that one re-check, never the watch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from bot.domain import events as ev
from bot.domain.errors import DomainError
from bot.domain.people import SYSTEM
from bot.domain.request import RequestState, RollbackRequest
from bot.ports import Clock, Verifier
from bot.store.due_items import DueKind
from bot.store.effects import record_event
from bot.store.uow import UnitOfWork
from bot.usecases.recovery_evidence import RecoveryEvidence
from bot.usecases.transition import Transitions

log = structlog.get_logger("rollbot.watch")


# Verified recoveries, closed or still waiting for a person's confirmation (top severity).
WATCHED = frozenset({RequestState.COMPLETED, RequestState.AWAITING_RECOVERY_CONFIRMATION})


@dataclass(frozen=True)
class _Recheck:
    request: RollbackRequest
    number: int
    final: bool


class RecoveryWatch:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        transitions: Transitions,
        verifier: Verifier,
        evidence: RecoveryEvidence | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._transitions = transitions
        self._verifier = verifier
        # the recovery charts, drawn once the watch has ended either way
        self._evidence = evidence

    async def _claim(self, now: datetime) -> list[_Recheck]:
        rechecks: list[_Recheck] = []
        async with self._uow() as uow:
            for item in await uow.due.claim(now, limit=50, kinds=(DueKind.RECOVERY_WATCH,)):
                stage = item.stage
                request = await uow.requests.get(item.request_id)
                until = request.watch_until
                if request.state not in WATCHED or until is None or item.due_at > until:
                    # Failed meanwhile, or no beat of the window is left: the watch ends.
                    await uow.due.advance(item.id, stage, next_due=None, done=now)
                    continue
                # On the window's own beat (5, 10, ... 30 minutes), skipping beats a pause missed.
                interval = request.rules.deadlines.watch_interval
                following = item.due_at + interval
                while following <= now:
                    following += interval
                final = following > until
                if await uow.due.advance(
                    item.id,
                    stage,
                    next_due=None if final else following,
                    done=now if final else None,
                ):
                    rechecks.append(_Recheck(request, stage + 1, final))
        return rechecks

    async def tick(self) -> int:
        """Run every re-check that is due; return how many drifted."""
        drifted = 0
        for recheck in await self._claim(self._clock.now()):
            result = await self._verifier.verify(recheck.request)
            if result.passed:
                await self._held(recheck, result.summary)
                if recheck.final:
                    await self._ended(recheck.request.id)
                continue
            try:
                await self._transitions.apply(
                    recheck.request.id,
                    ev.RecoveryDrifted(reason=result.summary, checks=result.checks),
                )
                drifted += 1
            except DomainError as exc:  # moved on meanwhile (another drift, or the window closed)
                log.warning("drift_not_recorded", request=recheck.request.id, reason=str(exc))
                await self._failed_late(recheck, result.summary, str(exc))
                continue
            await self._ended(recheck.request.id)
        return drifted

    async def _ended(self, request_id: str) -> None:
        if self._evidence is None:
            return
        try:
            await self._evidence.watch_ended(request_id)
        except Exception as exc:  # the charts are evidence; the watch's own record stands
            log.exception("recovery_charts_failed", request=request_id, error=repr(exc))

    async def _failed_late(self, recheck: _Recheck, summary: str, why: str) -> None:
        """A failed re-check the request can no longer take as drift (say, rollbot was down past
        the window): still audited and told, so nobody reads the silence as recovery."""
        async with self._uow() as uow:
            await record_event(
                uow,
                recheck.request,
                self._clock.now(),
                actor=SYSTEM,
                action="verification.recheck_failed",
                payload={"number": recheck.number, "summary": summary, "not_drift_because": why},
                timeline="recheck_failed",
                details={"number": str(recheck.number), "summary": summary},
            )

    async def _held(self, recheck: _Recheck, summary: str) -> None:
        now = self._clock.now()
        request = recheck.request
        async with self._uow() as uow:
            await record_event(
                uow,
                request,
                now,
                actor=SYSTEM,
                action="verification.recheck",
                payload={"number": recheck.number, "passed": True, "summary": summary},
                timeline="recheck",
                details={"number": str(recheck.number), "summary": summary},
            )
            if recheck.final:
                minutes = int(request.rules.deadlines.watch_window.total_seconds() // 60)
                await record_event(
                    uow,
                    request,
                    now,
                    actor=SYSTEM,
                    action="verification.watch_closed",
                    payload={"rechecks": recheck.number, "minutes": minutes},
                    timeline="watch_closed",
                    details={"rechecks": str(recheck.number), "minutes": str(minutes)},
                )
