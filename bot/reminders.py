"""Chasing obligations (seed 003 §8.2, seed 004): retroactive approval in 4 h, written approval
in 24 h, post-emergency review in 5 days, post-mortem in 48 h. Each due item is claimed inside
one transaction (SKIP LOCKED on PostgreSQL), so any number of replicas send a reminder once.
Reminders escalate: the channel, then the person who owns it, then the responsible role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.domain.events import ObligationKind
from bot.domain.policy import ApprovalPolicy, Role
from bot.domain.request import RollbackRequest
from bot.outbox import NoticeKind, put_notice
from bot.ports import Clock
from bot.store.uow import UnitOfWork

REMIND_EVERY = timedelta(hours=1)
K = ObligationKind

HOW_TO_MEET = {
    K.POST_MORTEM: "/rollback postmortem {id} <link>",
    K.RETRO_APPROVAL: "/rollback approve-retro {id}",
    K.EMERGENCY_WRITTEN_APPROVAL: "/rollback written-approval {id} <link>",
    K.POST_EMERGENCY_REVIEW: "/rollback review {id} <link>",
}
RESPONSIBLE = {
    K.POST_MORTEM: Role.ENGINEERING_LEAD,
    K.EMERGENCY_WRITTEN_APPROVAL: Role.CTO,
    K.POST_EMERGENCY_REVIEW: Role.ENGINEERING_LEAD,
}


class Reminders:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        policy: ApprovalPolicy,
        outbox_written: Callable[[], None],
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy
        self._outbox_written = outbox_written

    def _mention(self, request: RollbackRequest, kind: ObligationKind, stage: int) -> str:
        """Nobody at first; then the owner (the override's declarer, else the requester); then the role."""
        if stage == 0:
            return ""
        owner = request.override.by.id if request.override else request.requester.id
        if stage == 1:
            return f"<@{owner}>"
        role = RESPONSIBLE.get(kind)
        if role is None:  # a retroactive approval: the roles the matrix asked for
            role = next(iter(request.rules.row.requires), Role.ENGINEERING_LEAD)
        source = self._policy.roles.get(role)
        if source is None:
            return f"<@{owner}>"
        mentions = ([f"<!subteam^{source.usergroup}>"] if source.usergroup else []) + [
            f"<@{u}>" for u in source.users
        ]
        return " ".join(mentions) or f"<@{owner}>"

    async def tick(self) -> int:
        """Send every reminder that is due; return how many went out."""
        now = self._clock.now()
        sent = 0
        async with self._uow() as uow:
            for item in await uow.due.claim(now, limit=100):
                assert item.id is not None
                stage = item.stage  # read before advance(): the update refreshes the object
                request = await uow.requests.get(item.request_id)
                kind = ObligationKind(item.kind)
                obligation = request.obligation(kind)
                if obligation is None or obligation.met_at is not None:
                    await uow.due.advance(
                        item.id, stage, next_due=None, done=now
                    )  # the chase stops
                    continue
                if not await uow.due.advance(
                    item.id, stage, next_due=now + REMIND_EVERY, done=None
                ):
                    continue  # another replica sent this one
                await put_notice(
                    uow,
                    NoticeKind.REMINDER,
                    request,
                    now,
                    obligation=kind.value,
                    due=obligation.due.isoformat(),
                    stage=stage,
                    how=HOW_TO_MEET[kind].format(id=request.id),
                    mention=self._mention(request, kind, stage),
                )
                sent += 1
        if sent:
            self._outbox_written()
        return sent
