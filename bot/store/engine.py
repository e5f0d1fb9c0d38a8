"""The async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.store.database_url import driver_url


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_dropped_connection(exc: BaseException) -> bool:
    """The server or the network closed the connection under us; the pool has thrown it away."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def is_transient(exc: BaseException) -> bool:
    """A database error worth trying again: locked, busy, a dropped connection. Never a
    constraint violation (that is an answer, not a hiccup)."""
    if isinstance(exc, IntegrityError):
        return False
    if isinstance(exc, OperationalError):
        return True
    return is_dropped_connection(exc)


_NAMED_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:name))")


async def hold_named_lock(db: AsyncSession | AsyncConnection, name: str) -> None:
    """Hold a named lock until this transaction ends, across every replica.

    PostgreSQL: a transaction-level advisory lock. SQLite runs one process, whose own asyncio
    locks (and its single writer) already serialise it."""
    dialect = db.dialect if isinstance(db, AsyncConnection) else db.get_bind().dialect
    if dialect.name == "postgresql":
        await db.execute(_NAMED_LOCK, {"name": name})


def create_engine(url: str, busy_timeout: float = 30.0) -> AsyncEngine:
    """The engine for a URL as operators write it (postgres://, sslmode=…: database_url.py)."""
    url, connect_args = driver_url(url)
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": busy_timeout})
        busy_ms = int(busy_timeout * 1000)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.close()

        return engine
    # No pre-ping: it is one more round trip before every statement on the answering path. A
    # connection the server dropped fails its first use, the pool is invalidated, and callers
    # retry what is_transient() names; recycling keeps idle connections from outliving the
    # server's and the network's idle timeouts.
    return create_async_engine(
        url, pool_size=10, max_overflow=10, pool_recycle=300, connect_args=connect_args
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
