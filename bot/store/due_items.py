"""Due items: what the scheduler must do at a time (chase an obligation, fire a decision
timeout, re-check recovery), claimed so that any number of replicas do each once."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import CursorResult, update
from sqlalchemy import select as columns  # sqlmodel's select is typed for four columns at most
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.store.tables import DueItemRow


class DueKind(StrEnum):
    """Due items that are not obligations (those use their ObligationKind value)."""

    DECISION_TIMEOUT = "decision_timeout"
    RECOVERY_WATCH = "recovery_watch"
    EVIDENCE_UPLOAD = "evidence_upload"
    # an addendum the store refused (or whose pack was not stored yet), tried again
    RECOVERY_CHARTS = "recovery_charts"
    POSTMORTEM_ADDENDUM = "postmortem_addendum"
    EXECUTION_LEASE = "execution_lease"


@dataclass(frozen=True)
class DueItem:
    """Something the clock must do for a request; `stage` counts how often it was moved on."""

    id: int
    kind: str
    request_id: str
    due_at: datetime
    stage: int
    done_at: datetime | None


@dataclass(frozen=True)
class Move:
    """One item moved on: to its next stage, due again at `next_due`, or done at `done`."""

    item_id: int
    stage: int
    next_due: datetime | None
    done: datetime | None


def _item(row: DueItemRow) -> DueItem:
    return _stored(row.id, row.kind, row.request_id, row.due_at, row.stage, row.done_at)


def _stored(
    item_id: int | None,
    kind: str,
    request_id: str,
    due_at: datetime,
    stage: int,
    done_at: datetime | None,
) -> DueItem:
    """A due item as the table holds it, whether read as a row object or as its columns."""
    assert item_id is not None  # a stored row has its id
    return DueItem(item_id, kind, request_id, due_at, stage, done_at)


class DueItems:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, kind: str, request_id: str, due_at: datetime) -> None:
        self._session.add(DueItemRow(kind=kind, request_id=request_id, due_at=due_at))

    async def add_once(self, kind: str, request_id: str, due_at: datetime) -> None:
        """Add unless this request already has an item of this kind (done or not)."""
        found = await self._session.scalar(
            select(DueItemRow.id)
            .where(col(DueItemRow.request_id) == request_id)
            .where(col(DueItemRow.kind) == kind)
        )
        if found is None:
            await self.add(kind, request_id, due_at)

    async def close(self, kind: str, request_id: str, now: datetime) -> None:
        """Whatever stage it is at: the work is done."""
        await self._session.execute(
            update(DueItemRow)
            .where(col(DueItemRow.request_id) == request_id)
            .where(col(DueItemRow.kind) == kind)
            .where(col(DueItemRow.done_at).is_(None))
            .values(done_at=now)
        )

    async def holds(self, kind: str, request_id: str, token: int | None) -> bool:
        """Whether `token` is still the open item's stage: a lease not taken over since."""
        return token is not None and token == await self.stage_of(kind, request_id)

    async def stage_of(self, kind: str, request_id: str) -> int | None:
        """How often the open item was moved on: a lease's fencing token."""
        return await self._session.scalar(
            select(DueItemRow.stage)
            .where(col(DueItemRow.request_id) == request_id)
            .where(col(DueItemRow.kind) == kind)
            .where(col(DueItemRow.done_at).is_(None))
        )

    async def extend(
        self, kind: str, request_id: str, due_at: datetime, *, stage: int | None = None
    ) -> bool:
        """Push an open item's due time on (a lease renewed); False if it is closed, or, with
        `stage`, if someone else moved it on since (the lease was taken over)."""
        query = (
            update(DueItemRow)
            .where(col(DueItemRow.request_id) == request_id)
            .where(col(DueItemRow.kind) == kind)
            .where(col(DueItemRow.done_at).is_(None))
        )
        if stage is not None:
            query = query.where(col(DueItemRow.stage) == stage)
        result: CursorResult[Any] = await self._session.execute(  # type: ignore[assignment]
            query.values(due_at=due_at)
        )
        return result.rowcount == 1

    async def claim(self, now: datetime, limit: int, kinds: Collection[str]) -> list[DueItem]:
        """Due, unfinished items of these kinds, locked for this transaction; other replicas
        skip them."""
        # Columns, not ORM objects: nothing here is changed through the session, and building
        # and tracking a hundred objects per tick was most of the claim's cost.
        query = (
            columns(
                col(DueItemRow.id),
                col(DueItemRow.kind),
                col(DueItemRow.request_id),
                col(DueItemRow.due_at),
                col(DueItemRow.stage),
                col(DueItemRow.done_at),
            )
            .where(col(DueItemRow.done_at).is_(None))
            .where(col(DueItemRow.due_at) <= now)
            .where(col(DueItemRow.kind).in_(list(kinds)))
            .order_by(col(DueItemRow.due_at))
            .limit(limit)
        )
        if self._session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_stored(*row) for row in await self._session.execute(query)]

    async def advance(
        self, item_id: int, stage: int, *, next_due: datetime | None, done: datetime | None
    ) -> bool:
        """Move an item on only if nobody else did since we read it: one sender per reminder."""
        moved = await self.advance_many([Move(item_id, stage, next_due, done)])
        return item_id in moved

    async def claim_for_retry(
        self, now: datetime, kinds: Collection[str], *, first: timedelta, longest: timedelta
    ) -> list[DueItem]:
        """Due retries of these kinds, each pushed back before it runs (`first`, then twice as
        long each time, at most `longest`): replicas never run one twice, and a service that
        stays down is not hammered. Only the items this transaction moved are returned."""
        claimed: list[DueItem] = []
        for item in await self.claim(now, limit=20, kinds=kinds):
            backoff = min(first * 2**item.stage, longest)
            if await self.advance(item.id, item.stage, next_due=now + backoff, done=None):
                claimed.append(item)
        return claimed

    async def advance_many(self, moves: Collection[Move]) -> set[int]:
        """advance() for many items in a statement per (stage, next due, done) group, not one
        per item; returns the ids that moved (the others somebody else moved first)."""
        groups: dict[tuple[int, datetime | None, datetime | None], list[int]] = {}
        for move in moves:
            groups.setdefault((move.stage, move.next_due, move.done), []).append(move.item_id)
        moved: set[int] = set()
        for (stage, next_due, done), ids in groups.items():
            found = await self._session.scalars(
                update(DueItemRow)
                .where(col(DueItemRow.id).in_(ids))
                .where(col(DueItemRow.stage) == stage)
                .where(col(DueItemRow.done_at).is_(None))
                .values(
                    stage=stage + 1,
                    **({"due_at": next_due} if next_due is not None else {}),
                    **({"done_at": done} if done is not None else {}),
                )
                .returning(col(DueItemRow.id))
                # set-based: the session holds none of these rows, so it has nothing to match
                .execution_options(synchronize_session=False)
            )
            moved.update(i for i in found if i is not None)
        return moved

    async def pending(self, request_id: str) -> list[DueItem]:
        rows = await self._session.scalars(
            select(DueItemRow)
            .where(col(DueItemRow.request_id) == request_id)
            .order_by(col(DueItemRow.due_at))
        )
        return [_item(row) for row in rows]
