"""Chasing obligations (the change management guide, the rollback runbook): retroactive approval in 4 h, written approval
in 24 h, post-emergency review in 5 days, post-mortem in 48 h. Each due item is claimed inside
one transaction (SKIP LOCKED on PostgreSQL), so any number of replicas send a reminder once.
Also the clocks of a declared incident (the incident response standard): the decision SLA and telling customers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain.events import ObligationKind
from bot.domain.notices import Mentions, Reminder, mentions_for
from bot.domain.policy import ApprovalPolicy, Role
from bot.domain.request import RollbackRequest
from bot.ports import Clock
from bot.store.due_items import Move
from bot.store.uow import UnitOfWork

K = ObligationKind
# How often a reminder repeats: the short clocks of a live incident are chased more often.
REMIND_EVERY = {
    K.DECISION_SLA: timedelta(minutes=15),
    K.CUSTOMER_NOTIFICATION: timedelta(minutes=15),
}
DEFAULT_EVERY = timedelta(hours=1)

HOW_TO_MEET = {
    K.POST_MORTEM: "/rollback postmortem {id} <link>",
    K.RETRO_APPROVAL: "/rollback approve-retro {id}",
    K.EMERGENCY_WRITTEN_APPROVAL: "/rollback written-approval {id} <link>",
    K.POST_EMERGENCY_REVIEW: "/rollback review {id} <link>",
    K.DECISION_SLA: "Roll back or Forward fix on the card of {id}",
    K.CUSTOMER_NOTIFICATION: "Customers notified on the card, or /rollback customers-notified {id} <note>",
    K.RECOVERY_CONFIRMATION: "Recovery confirmed on the card of {id}, once you have seen the service work",
}
RESPONSIBLE = {
    K.POST_MORTEM: Role.ENGINEERING_LEAD,
    K.EMERGENCY_WRITTEN_APPROVAL: Role.CTO,
    K.POST_EMERGENCY_REVIEW: Role.ENGINEERING_LEAD,
    K.DECISION_SLA: Role.ENGINEERING_LEAD,
    K.CUSTOMER_NOTIFICATION: Role.INCIDENT_COMMANDER,
    K.RECOVERY_CONFIRMATION: Role.ON_CALL,
}
OBLIGATION_KINDS = tuple(k.value for k in K)
# Where to start: the post-mortem draft rollbot posted when the rollback ended.
HINTS = {K.POST_MORTEM: 'Start from the "Post-mortem draft — {id}" in the request\'s thread.'}


class Reminders:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        policy: ApprovalPolicy,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy

    def _owner(self, request: RollbackRequest) -> str:
        return request.override.by.id if request.override else request.requester.id

    def _incident_commanders(self, request: RollbackRequest) -> tuple[str, ...]:
        """Whom the second step writes to directly: the policy's incident commanders, else the
        owner (the override's declarer, else the requester)."""
        source = self._policy.roles.get(Role.INCIDENT_COMMANDER)
        return (source.users if source and source.users else ()) or (self._owner(request),)

    def _role_mentions(self, request: RollbackRequest, kind: ObligationKind) -> Mentions:
        """The responsible role's people and group; the owner when the policy names nobody."""
        role = RESPONSIBLE.get(kind)
        if role is None:  # a retroactive approval: the roles the matrix asked for
            role = next(iter(request.rules.row.requires), Role.ENGINEERING_LEAD)
        found = mentions_for(self._policy, (role,))
        return Mentions(users=(self._owner(request),)) if found.empty else found

    async def tick(self) -> int:
        """Send every reminder that is due; return how many went out.

        Escalation: the channel, then a direct message to the incident commander, then the
        channel again mentioning the responsible role; it repeats until the obligation is met.
        Set-based: the claimed items' requests are read in one statement and the items moved
        on in a statement per group, so a tick costs a few round trips, not three per item."""
        now = self._clock.now()
        async with self._uow() as uow:
            items = await uow.due.claim(now, limit=100, kinds=OBLIGATION_KINDS)
            requests = await uow.requests.get_many({item.request_id for item in items})
            moves, chased = [], []
            for item in items:
                kind = ObligationKind(item.kind)
                request = requests.get(item.request_id)
                obligation = request.obligation(kind) if request else None
                if request is None or obligation is None or obligation.met_at is not None:
                    moves.append(Move(item.id, item.stage, next_due=None, done=now))  # stop
                    continue
                every = REMIND_EVERY.get(kind, DEFAULT_EVERY)
                moves.append(Move(item.id, item.stage, next_due=now + every, done=None))
                chased.append((item, request, obligation.due))
            moved = await uow.due.advance_many(moves)
            sent = 0
            for item, request, due in chased:
                if item.id not in moved:
                    continue  # another replica sent this one
                await self._send(uow, item.stage, ObligationKind(item.kind), request, due, now)
                sent += 1
        return sent

    async def _send(
        self,
        uow: UnitOfWork,
        stage: int,
        kind: ObligationKind,
        request: RollbackRequest,
        due: datetime,
        now: datetime,
    ) -> None:
        reminder = Reminder(
            obligation=kind.value,
            due=due,
            stage=stage,
            how=HOW_TO_MEET[kind].format(id=request.id),
            hint=HINTS.get(kind, "").format(id=request.id),
            mentions=self._role_mentions(request, kind) if stage >= 2 else Mentions(),
            link_thread=kind is ObligationKind.POST_MORTEM,
        )
        if stage == 1:
            for person in self._incident_commanders(request):
                await uow.outbox.notify(request, reminder, now, to=person)
        else:
            await uow.outbox.notify(request, reminder, now)
