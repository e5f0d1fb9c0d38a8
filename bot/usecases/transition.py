"""One transition of a request: load, apply one event, save on the version read, record its
effects, all in one transaction. Every use case that moves a request goes through here.

Every action names the request version the person saw. The write is a conditional update on that
version, so double clicks, Slack retries, simultaneous approvers and clicks on an outdated card
lead to exactly one transition; everyone else is told the request has moved on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from bot.domain import events as ev
from bot.domain.errors import DomainError
from bot.domain.notices import escalation_for
from bot.domain.people import SYSTEM
from bot.domain.policy import ApprovalPolicy
from bot.domain.request import RollbackRequest
from bot.domain.transitions import apply
from bot.ports import Clock, LeaseLostError
from bot.store.due_items import DueKind
from bot.store.effects import EXECUTION_LEASE, record_transition
from bot.store.engine import is_transient
from bot.store.requests import RequestMovedOnError
from bot.store.uow import UnitOfWork

log = structlog.get_logger("rollbot.transitions")
# Pauses between attempts to record an outcome: about 15 s in all before giving up.
OUTCOME_RETRIES = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)


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

    async def record_outcome(
        self, request_id: str, event: ev.Event, *, fence: int | None = None
    ) -> RollbackRequest:
        """What a rollback did, recorded even through a database hiccup: a rollback that
        happened must never read as failed because the database was locked for a while.
        With `fence`, recorded only while that lease token is still the current one."""
        for attempt, pause in enumerate(OUTCOME_RETRIES, start=1):
            try:
                return await self.apply(request_id, event, fence=fence)
            except Exception as exc:
                if not is_transient(exc) or attempt == len(OUTCOME_RETRIES):
                    raise
                log.warning("outcome_retried", request=request_id, attempt=attempt, error=repr(exc))
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    async def load(self, request_id: str) -> RollbackRequest:
        async with self._uow() as uow:
            return await uow.requests.get(request_id)

    async def withheld_unseen(self, request: RollbackRequest, action: str, what: str) -> bool:
        """True when Slack stopped taking rollbot's messages in the request's channel: the
        automatic step (`what`) does not run where nobody can see it, and the audit log says it
        was withheld and why. The requester and the incidents channel were told when Slack
        refused."""
        async with self._uow() as uow:
            closed = await uow.requests.channel_closed(request.id)
            if closed is None:
                return False
            await uow.audit.append(
                at=self._clock.now(),
                actor=SYSTEM,
                action=action,
                request_id=request.id,
                incident_id=request.incident_id,
                payload={"why": f"{what}, and nobody can see the request's channel ({closed})"},
            )
        log.warning("automatic_step_withheld", request=request.id, step=action, why=closed)
        return True

    async def apply(
        self,
        request_id: str,
        event: ev.Event,
        *,
        seen_version: int | None = None,
        fence: int | None = None,
    ) -> RollbackRequest:
        now = self._clock.now()
        async with self._uow() as uow:
            request = await uow.requests.get(request_id)
            if seen_version is not None and request.version != seen_version:
                raise RequestMovedOnError(request.id)
            if fence is not None and not await uow.due.holds(
                DueKind.EXECUTION_LEASE, request_id, fence
            ):  # checked in the transaction that records the step: a lost lease records nothing
                raise LeaseLostError(f"another process took {request_id} over")
            moved, effects = apply(request, event, now)
            await uow.requests.save(moved, expected_version=request.version)
            await record_transition(uow, moved, effects, now, self.lease)
            for effect in effects:
                if isinstance(effect, ev.Escalate) and effect.page:
                    await self._page(uow, moved, effect, now)
        return moved
