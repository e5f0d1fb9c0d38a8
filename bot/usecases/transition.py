"""One transition of a request: load, apply one event, save on the version read, record its
effects, all in one transaction. Every use case that moves a request goes through here.

Every action names the request version the person saw. The write is a conditional update on that
version, so double clicks, Slack retries, simultaneous approvers and clicks on an outdated card
lead to exactly one transition; everyone else is told the request has moved on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain import events as ev
from bot.domain.errors import DomainError
from bot.domain.notices import escalation_for
from bot.domain.policy import ApprovalPolicy
from bot.domain.request import RollbackRequest
from bot.domain.transitions import apply
from bot.ports import Clock
from bot.store.effects import EXECUTION_LEASE, record_transition
from bot.store.requests import RequestMovedOnError
from bot.store.uow import UnitOfWork


class TargetMovedError(DomainError):
    def __init__(self, request: RollbackRequest, live: str) -> None:
        super().__init__(
            f"the target moved to revision {live} since this request was made; "
            f"its approvals lapsed. Look at the updated card of {request.id} and approve again.",
        )


class Transitions:
    """Load, apply one event, save conditionally, record effects: one transaction."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        lease: timedelta = EXECUTION_LEASE,
        policy: ApprovalPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy or ApprovalPolicy()
        self.lease = lease

    async def _page(
        self, uow: UnitOfWork, request: RollbackRequest, effect: ev.Escalate, now: datetime
    ) -> None:
        """A person must take over: the roles by name in the channel, and each directly."""
        escalation, directly = escalation_for(effect.reason, effect.page, self._policy)
        await uow.outbox.notify(request, escalation, now)
        for person in directly:
            await uow.outbox.notify(request, escalation, now, to=person)

    async def load(self, request_id: str) -> RollbackRequest:
        async with self._uow() as uow:
            return await uow.requests.get(request_id)

    async def apply(
        self, request_id: str, event: ev.Event, *, seen_version: int | None = None
    ) -> RollbackRequest:
        now = self._clock.now()
        async with self._uow() as uow:
            request = await uow.requests.get(request_id)
            if seen_version is not None and request.version != seen_version:
                raise RequestMovedOnError(request.id)
            moved, effects = apply(request, event, now)
            await uow.requests.save(moved, expected_version=request.version)
            await record_transition(uow, moved, effects, now, self.lease)
            for effect in effects:
                if isinstance(effect, ev.Escalate) and effect.page:
                    await self._page(uow, moved, effect, now)
        return moved
