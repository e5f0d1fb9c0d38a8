"""The outbox repository: notices written with the change they report, read back typed."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, func, insert, or_, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.domain.notices import PAYLOADS, Notice, NoticeKind, NoticePayload
from bot.domain.request import RollbackRequest
from bot.store.tables import OutboxChannelRow, OutboxRow, RollbackRequestRow


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.written = 0  # notices added in this unit of work: delivery is woken after commit
        self._waiting: list[dict[str, Any]] = []
        self._dumped: dict[int, tuple[RollbackRequest, Any]] = {}

    async def notify(
        self,
        request: RollbackRequest,
        payload: NoticePayload,
        now: datetime,
        *,
        to: str | None = None,
    ) -> None:
        """`to`: another conversation than the request's channel (a user ID, the incidents
        channel). The notice carries the request as it is now, for the card it renders."""
        # A tick's reminders often show one request twice; requests are frozen, so the same
        # object always dumps the same (held here, its id cannot be reused meanwhile).
        cached = self._dumped.get(id(request))
        if cached is None or cached[0] is not request:
            cached = self._dumped[id(request)] = (request, request.model_dump(mode="json"))
        body: dict[str, Any] = {
            "request": cached[1],
            "data": payload.model_dump(mode="json"),
            "at": now.isoformat(),
        }
        self._waiting.append(
            {
                "channel_id": to or request.channel,
                "kind": payload.kind.value,
                "request_id": request.id,
                "payload": json.dumps(body, separators=(",", ":")),
                "created_at": now,
                "attempts": 0,
            }
        )
        self.written += 1

    async def settle(self) -> None:
        """Write this transaction's notices in one statement, in the order they were added (the
        unit of work calls it before its commit)."""
        if self._waiting:
            await self._session.execute(insert(OutboxRow), self._waiting)
            self._waiting = []

    def _with_card(self) -> Any:
        return select(OutboxRow, RollbackRequestRow.card_channel, RollbackRequestRow.card_ts).join(
            RollbackRequestRow,
            col(RollbackRequestRow.id) == col(OutboxRow.request_id),
            isouter=True,
        )

    async def pending(self, limit: int) -> list[Notice]:
        """The oldest waiting notices across every channel, with their request's card."""
        rows = await self._session.execute(
            self._with_card().where(*_WAITING).order_by(col(OutboxRow.id)).limit(limit)
        )
        return [_notice(row, card_channel, card_ts) for row, card_channel, card_ts in rows]

    async def waiting_count(self) -> int:
        found = await self._session.scalar(
            select(func.count()).select_from(OutboxRow).where(*_WAITING)
        )
        return int(found or 0)

    async def ready_channels(self, now: datetime, limit: int) -> list[str]:
        """Channels whose oldest waiting notice may go now, the longest-waiting first: each
        channel is its own queue, so one held back never delays another."""
        heads = (
            select(func.min(OutboxRow.id).label("head"))
            .where(*_WAITING)
            .group_by(col(OutboxRow.channel_id))
            .subquery()
        )
        rows = await self._session.execute(
            select(OutboxRow.channel_id)
            .join(heads, col(OutboxRow.id) == heads.c.head)
            .where(or_(col(OutboxRow.not_before).is_(None), col(OutboxRow.not_before) <= now))
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
        return [str(channel) for channel in rows.scalars()]

    async def waiting(self, channel: str, limit: int) -> list[Notice]:
        """The channel's queue, oldest first, with the card of each notice's request."""
        rows = await self._session.execute(
            self._with_card()
            .where(col(OutboxRow.channel_id) == channel, *_WAITING)
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
        return [_notice(row, card_channel, card_ts) for row, card_channel, card_ts in rows]

    async def claim_channel(
        self, channel: str, holder: str, now: datetime, until: datetime
    ) -> bool:
        """Hold the channel's queue until `until`, unless another replica holds it now."""
        dialect = self._session.get_bind().dialect.name
        insert = postgres_insert if dialect == "postgresql" else sqlite_insert
        table = OutboxChannelRow.__table__  # type: ignore[attr-defined]
        statement = (
            insert(table)
            .values(channel_id=channel, holder=holder, held_until=until)
            .on_conflict_do_update(
                index_elements=["channel_id"],
                set_={"holder": holder, "held_until": until},
                where=or_(table.c.held_until < now, table.c.holder == holder),
            )
        )
        result: CursorResult[Any] = await self._session.execute(statement)  # type: ignore[assignment]
        return result.rowcount == 1

    async def release_channel(self, channel: str, holder: str) -> None:
        await self._session.execute(
            delete(OutboxChannelRow)
            .where(col(OutboxChannelRow.channel_id) == channel)
            .where(col(OutboxChannelRow.holder) == holder)
        )

    async def mark_delivered(
        self, notice_ids: Collection[int], now: datetime, holder: str, until: datetime
    ) -> bool:
        """Delivered, in the claim's transaction: False (and nothing marked) when this replica
        no longer holds the channel, so the new holder's view stays the truth."""
        first = await self._session.get(OutboxRow, next(iter(notice_ids)))
        if first is None:
            return False
        renewed: CursorResult[Any] = await self._session.execute(  # type: ignore[assignment]
            update(OutboxChannelRow)
            .where(col(OutboxChannelRow.channel_id) == first.channel_id)
            .where(col(OutboxChannelRow.holder) == holder)
            .values(held_until=until)
        )
        if renewed.rowcount != 1:
            return False
        await self._session.execute(
            update(OutboxRow).where(col(OutboxRow.id).in_(notice_ids)).values(delivered_at=now)
        )
        return True

    async def mark_retry(self, notice_id: int, not_before: datetime, error: str) -> None:
        await self._session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.id) == notice_id)
            .values(
                not_before=not_before, attempts=col(OutboxRow.attempts) + 1, last_error=error[:500]
            )
        )

    async def mark_failed(self, notice_ids: Collection[int], now: datetime, error: str) -> None:
        await self._session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.id).in_(notice_ids))
            .values(failed_at=now, attempts=col(OutboxRow.attempts) + 1, last_error=error[:500])
        )

    async def failed(self) -> list[tuple[int, str, str]]:
        """(id, channel, error) of every notice Slack refused for good, oldest first."""
        rows = await self._session.execute(
            select(OutboxRow.id, OutboxRow.channel_id, OutboxRow.last_error)
            .where(col(OutboxRow.failed_at).is_not(None))
            .order_by(col(OutboxRow.id))
        )
        return [(int(i or 0), str(c), str(e or "")) for i, c, e in rows]


_WAITING = (col(OutboxRow.delivered_at).is_(None), col(OutboxRow.failed_at).is_(None))


def _notice(row: OutboxRow, card_channel: str | None, card_ts: str | None) -> Notice:
    body = json.loads(row.payload)
    kind = NoticeKind(row.kind)
    assert row.id is not None
    return Notice(
        id=row.id,
        channel=row.channel_id,
        request=RollbackRequest.model_validate(body["request"]),
        payload=PAYLOADS[kind].model_validate(body.get("data") or {}),
        attempts=row.attempts,
        not_before=row.not_before,
        card=(card_channel, card_ts) if card_channel and card_ts else None,
        at=datetime.fromisoformat(body["at"]),
    )
