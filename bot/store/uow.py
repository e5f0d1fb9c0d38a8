"""Unit of work: one transaction, the repositories that share it, commit or roll back, and then
the commit as the event bus.

What a unit of work changed is collected as it is written (the effects of each transition, how
many notices went to the outbox). Only once the commit has succeeded is it handed to the
handlers the composition root registered (wake delivery, start an approved rollback). A rolled
back unit of work hands nothing on, so nothing acts on a change that did not happen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.audit.chain import SignedCheckpoint
from bot.audit.keys import AuditSigner
from bot.domain import events as ev
from bot.domain.request import RollbackRequest
from bot.store.audit_log import AuditedStep, AuditLog
from bot.store.drills import DrillRepository
from bot.store.due_items import DueItems
from bot.store.engine import hold_named_lock, session_factory
from bot.store.inbox import InboxRepository
from bot.store.incidents import IncidentRepository
from bot.store.outbox import OutboxRepository
from bot.store.requests import RequestRepository

log = structlog.get_logger("rollbot.store")
E = TypeVar("E", bound=ev.Effect)


@dataclass(frozen=True)
class Committed:
    """What one committed unit of work changed, for the handlers that act on it."""

    effects: tuple[tuple[RollbackRequest, ev.Effect], ...]
    notices_written: int
    checkpoints: tuple[SignedCheckpoint, ...] = ()
    audited: tuple[AuditedStep, ...] = ()

    def of_type(self, kind: type[E]) -> list[tuple[RollbackRequest, E]]:
        return [(r, e) for r, e in self.effects if isinstance(e, kind)]


CommitHandler = Callable[[Committed], None]


class UnitOfWork:
    requests: RequestRepository
    audit: AuditLog
    outbox: OutboxRepository
    inbox: InboxRepository
    incidents: IncidentRepository
    due: DueItems
    drills: DrillRepository

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        signer: AuditSigner,
        handlers: list[CommitHandler],
    ) -> None:
        self._sessions = sessions
        self._signer = signer
        self._handlers = handlers
        self._session: AsyncSession | None = None
        self._effects: list[tuple[RollbackRequest, ev.Effect]] = []

    async def hold_lock(self, name: str) -> None:
        """Hold a named lock until this unit of work ends, across every replica."""
        await hold_named_lock(self.session, name)

    def collect(self, request: RollbackRequest, effects: tuple[ev.Effect, ...]) -> None:
        """Effects of a transition written in this unit of work, handed on after the commit."""
        self._effects.extend((request, effect) for effect in effects)

    @property
    def session(self) -> AsyncSession:
        assert self._session is not None, "use the unit of work inside `async with`"
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessions()
        self._effects = []
        self.requests = RequestRepository(self._session)
        self.audit = AuditLog(self._session, self._signer)
        self.outbox = OutboxRepository(self._session)
        self.inbox = InboxRepository(self._session)
        self.incidents = IncidentRepository(self._session)
        self.due = DueItems(self._session)
        self.drills = DrillRepository(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        committed: Committed | None = None
        try:
            if exc_type is None:
                await self.outbox.settle()
                await self.audit.settle()  # the audit head last: its lock is held the shortest
                await self._session.commit()
                committed = Committed(
                    tuple(self._effects),
                    self.outbox.written,
                    tuple(self.audit.signed),
                    tuple(self.audit.written),
                )
            else:
                await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None
        if committed is not None and (
            committed.effects
            or committed.notices_written
            or committed.checkpoints
            or committed.audited
        ):
            self._publish(committed)

    def _publish(self, committed: Committed) -> None:
        for handler in self._handlers:
            try:
                handler(committed)
            except Exception as exc:  # the change is committed; a handler must not undo that
                log.error("commit_handler_failed", handler=repr(handler), error=repr(exc))


class UnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine, signer: AuditSigner) -> None:
        self.engine = engine
        self.signer = signer
        self._sessions = session_factory(engine)
        self._handlers: list[CommitHandler] = []

    def on_commit(self, handler: CommitHandler) -> None:
        """Register what runs after every successful commit (delivery, execution)."""
        self._handlers.append(handler)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, self.signer, self._handlers)
