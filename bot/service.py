"""Use cases: the only place that sequences domain rules, the store and the ports."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from bot.commands import OpenRollback
from bot.domain.errors import DomainError
from bot.domain.events import AuditEffect
from bot.domain.opening import open_rollback_request
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy
from bot.domain.request import RollbackRequest
from bot.domain.severity import declared
from bot.outbox import NoticeKind, put_notice
from bot.ports import Clock, RoleDirectory
from bot.store.uow import UnitOfWork

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_request_id() -> str:
    return "RB-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


class NoRequestHereError(DomainError):
    def __init__(self) -> None:
        super().__init__("there is no rollback request in this channel yet")


@dataclass(frozen=True)
class OpenResult:
    request: RollbackRequest
    created: bool


async def record_audit(uow: UnitOfWork, request: RollbackRequest, effect: AuditEffect) -> None:
    await uow.audit.append(
        at=request.updated_at,
        actor=effect.actor,
        action=effect.action,
        request_id=request.id,
        incident_id=request.incident_id,
        payload={
            "from": effect.from_state,
            "to": effect.to_state,
            "version": request.version,
            **effect.details,
        },
    )


class RollbackService:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        policy: ApprovalPolicy,
        roles: RoleDirectory,
        new_id: Callable[[], str] = new_request_id,
        outbox_written: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy
        self._roles = roles
        self._new_id = new_id
        self._outbox_written = outbox_written

    async def open_request(
        self, command: OpenRollback, *, actor: Person, channel: str, idempotency_key: str
    ) -> OpenResult:
        """Store a proposed request and its card notice in one transaction; retries find it."""
        async with self._uow() as uow:
            existing = await uow.requests.by_idempotency_key(idempotency_key)
            if existing is not None:
                return OpenResult(existing, created=False)
        now = self._clock.now()
        request, audit = open_rollback_request(
            request_id=self._new_id(),
            channel=channel,
            requester=actor,
            requester_roles=await self._roles.roles_of(actor.id),
            target=command.target,
            rollback_type=command.rollback_type,
            assessment=declared(command.severity, actor.label),
            policy=self._policy,
            reason=command.reason,
            now=now,
            ticket=command.ticket,
            to_revision=command.to_revision,
        )
        try:
            async with self._uow() as uow:
                await uow.requests.add(request, idempotency_key)
                await record_audit(uow, request, audit)
                await put_notice(uow, NoticeKind.REQUEST_OPENED, request, now)
        except IntegrityError:
            # A concurrent delivery of the same command won the insert: report that one.
            async with self._uow() as uow:
                winner = await uow.requests.by_idempotency_key(idempotency_key)
            if winner is None:
                raise
            return OpenResult(winner, created=False)
        self._outbox_written()
        return OpenResult(request, created=True)

    async def status(self, channel: str, request_id: str | None) -> RollbackRequest:
        async with self._uow() as uow:
            if request_id is not None:
                return await uow.requests.get(request_id)
            latest = await uow.requests.latest_in_channel(channel)
        if latest is None:
            raise NoRequestHereError()
        return latest

    async def list_open(self, channel: str) -> list[RollbackRequest]:
        async with self._uow() as uow:
            return await uow.requests.open_in_channel(channel)
