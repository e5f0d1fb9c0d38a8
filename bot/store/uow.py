"""Unit of work: one transaction, the repositories that share it, commit or roll back."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.audit.keys import AuditSigner
from bot.store.due_items import DueItems
from bot.store.engine import session_factory
from bot.store.repositories import (
    AuditLog,
    IncidentRepository,
    OutboxRepository,
    RequestRepository,
)


class UnitOfWork:
    requests: RequestRepository
    audit: AuditLog
    outbox: OutboxRepository
    incidents: IncidentRepository
    due: DueItems

    def __init__(self, sessions: async_sessionmaker[AsyncSession], signer: AuditSigner) -> None:
        self._sessions = sessions
        self._signer = signer
        self._session: AsyncSession | None = None

    async def hold_lock(self, name: str) -> None:
        """Hold a named lock until this unit of work ends, across every replica.

        PostgreSQL: a transaction-level advisory lock. SQLite runs one process, whose own
        asyncio locks already serialise it."""
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name}
            )

    @property
    def session(self) -> AsyncSession:
        assert self._session is not None, "use the unit of work inside `async with`"
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessions()
        self.requests = RequestRepository(self._session)
        self.audit = AuditLog(self._session, self._signer)
        self.outbox = OutboxRepository(self._session)
        self.incidents = IncidentRepository(self._session)
        self.due = DueItems(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            if exc_type is None:
                await self.audit.settle()
                await self._session.commit()
            else:
                await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None


class UnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine, signer: AuditSigner) -> None:
        self.engine = engine
        self.signer = signer
        self._sessions = session_factory(engine)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, self.signer)
