"""The inbox repository: what arrived, stored once by its sender's identity, claimed by one
worker at a time, and marked processed, postponed or failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Insert, and_, bindparam, delete, or_, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col, select

from bot.store.tables import InboxRow


@dataclass(frozen=True)
class InboxItem:
    id: int
    kind: str
    payload: str
    attempts: int
    outcomes: str


_WAITING = and_(col(InboxRow.processed_at).is_(None), col(InboxRow.failed_at).is_(None))


def _insert_once(dialect: str) -> Insert:
    """INSERT … ON CONFLICT (kind, key) DO NOTHING RETURNING id, with every value a parameter:
    built once, so the answering path neither builds nor compiles a statement per request."""
    insert = postgres_insert if dialect == "postgresql" else sqlite_insert
    table = InboxRow.__table__  # type: ignore[attr-defined]
    values = ("kind", "key", "payload", "received_at", "attempts", "outcomes")
    return (
        insert(table)
        .values({name: bindparam(name) for name in values})
        .on_conflict_do_nothing(index_elements=["kind", "key"])
        .returning(table.c.id)
    )


class InboxWriter:
    """The answering path's one statement, on a pooled connection of its own. No session and no
    unit of work: nothing else changes in it, and no commit handler has anything to act on, so
    their per-request cost (a third of the answer's CPU under load) buys nothing here."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._statement = _insert_once(engine.dialect.name)

    async def add(self, kind: str, key: str, payload: str, now: datetime) -> int | None:
        """Store it; None when the same thing was stored before (a sender's retry)."""
        values = {
            "kind": kind,
            "key": key,
            "payload": payload,
            "received_at": now,
            "attempts": 0,
            "outcomes": "[]",
        }
        async with self._engine.begin() as conn:
            found = (await conn.execute(self._statement, values)).scalar()
        return None if found is None else int(found)


class InboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, kind: str, now: datetime, until: datetime, limit: int) -> list[InboxItem]:
        """Waiting items nobody holds, held until `until` by this worker. The outer conditions
        are checked again on each row as it is locked, so two workers never hold one item."""
        free = or_(col(InboxRow.claimed_until).is_(None), col(InboxRow.claimed_until) < now)
        due = or_(col(InboxRow.not_before).is_(None), col(InboxRow.not_before) <= now)
        ids = (
            select(InboxRow.id)
            .where(col(InboxRow.kind) == kind, _WAITING, free, due)
            .order_by(col(InboxRow.id))
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer anyway
            .scalar_subquery()
        )
        result = await self._session.execute(
            update(InboxRow)
            .where(col(InboxRow.id).in_(ids), _WAITING, free)
            .values(claimed_until=until)
            .returning(
                col(InboxRow.id),
                col(InboxRow.kind),
                col(InboxRow.payload),
                col(InboxRow.attempts),
                col(InboxRow.outcomes),
            )
        )
        items = [InboxItem(int(i or 0), str(k), str(p), int(a), str(o)) for i, k, p, a, o in result]
        return sorted(items, key=lambda item: item.id)

    async def processed(self, item_id: int, now: datetime, outcomes: str) -> None:
        await self._session.execute(
            update(InboxRow)
            .where(col(InboxRow.id) == item_id)
            .values(processed_at=now, outcomes=outcomes, claimed_until=None)
        )

    async def postpone(
        self, item_id: int, not_before: datetime, error: str, outcomes: str, *, failed: bool
    ) -> None:
        values: dict[str, Any] = {
            "not_before": not_before,
            "attempts": col(InboxRow.attempts) + 1,
            "last_error": error[:500],
            "outcomes": outcomes,
            "claimed_until": None,
        }
        if failed:
            values["failed_at"] = not_before
        await self._session.execute(
            update(InboxRow).where(col(InboxRow.id) == item_id).values(**values)
        )

    async def outcomes(self, item_id: int) -> tuple[str, bool] | None:
        """(outcomes so far as JSON, whether it is finished: processed or failed)."""
        row = await self._session.get(InboxRow, item_id)
        if row is None:
            return None
        return row.outcomes, row.processed_at is not None or row.failed_at is not None

    async def waiting(self, kind: str) -> int:
        rows = await self._session.execute(
            select(InboxRow.id).where(col(InboxRow.kind) == kind, _WAITING)
        )
        return len(rows.all())

    async def prune(self, kind: str, before: datetime) -> int:
        """Forget processed items received before `before` (failed ones are kept)."""
        result: CursorResult[Any] = await self._session.execute(  # type: ignore[assignment]
            delete(InboxRow)
            .where(col(InboxRow.kind) == kind, col(InboxRow.processed_at).is_not(None))
            .where(col(InboxRow.received_at) < before)
        )
        return int(result.rowcount or 0)
