"""The automatic rollback when nobody decides in time: no decision within the policy's window
after the prompt (30 minutes by default), and the request rolls back, announced and audited."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from bot.domain import events as ev
from bot.domain.errors import DomainError
from bot.domain.request import RequestState
from bot.ports import Clock
from bot.store.due_items import DueKind
from bot.store.uow import UnitOfWork
from bot.usecases.transition import Transitions

log = structlog.get_logger("rollbot.decision_timeout")


class DecisionTimeouts:
    def __init__(
        self, uow: Callable[[], UnitOfWork], clock: Clock, transitions: Transitions
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._transitions = transitions

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
                if request.state is RequestState.AWAITING_DECISION and not (
                    await self._transitions.withheld_unseen(
                        request, "decision.timeout_withheld", "nobody decided in time"
                    )
                ):
                    await self._transitions.apply(request_id, ev.DecisionTimedOut())
                    fired += 1
            except DomainError as exc:  # someone decided, or another replica fired it first
                log.info("decision_timeout_skipped", request=request_id, reason=str(exc))
            async with self._uow() as uow:
                await uow.due.advance(item_id, stage, next_due=None, done=now)
        return fired
