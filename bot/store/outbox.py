"""The outbox repository: notices written with the change they report, read back typed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.domain.notices import PAYLOADS, Notice, NoticeKind, NoticePayload
from bot.domain.request import RollbackRequest
from bot.store.tables import OutboxRow, RollbackRequestRow


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.written = 0  # notices added in this unit of work: delivery is woken after commit

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
        body: dict[str, Any] = {
            "request": request.model_dump(mode="json"),
            "data": payload.model_dump(mode="json"),
            "at": now.isoformat(),
        }
        self._session.add(
            OutboxRow(
                channel_id=to or request.channel,
                kind=payload.kind.value,
                request_id=request.id,
                payload=json.dumps(body, separators=(",", ":")),
                created_at=now,
            )
        )
        self.written += 1

    async def pending(self, limit: int) -> list[Notice]:
        """The oldest undelivered notices, with the card of their request where it is posted."""
        rows = await self._session.execute(
            select(OutboxRow, RollbackRequestRow.card_channel, RollbackRequestRow.card_ts)
            .join(
                RollbackRequestRow,
                col(RollbackRequestRow.id) == col(OutboxRow.request_id),
                isouter=True,
            )
            .where(col(OutboxRow.delivered_at).is_(None))
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
        return [_notice(row, card_channel, card_ts) for row, card_channel, card_ts in rows]

    async def mark_delivered(self, notice_id: int, now: datetime) -> None:
        await self._session.execute(
            update(OutboxRow).where(col(OutboxRow.id) == notice_id).values(delivered_at=now)
        )

    async def mark_retry(self, notice_id: int, not_before: datetime, error: str) -> None:
        await self._session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.id) == notice_id)
            .values(
                not_before=not_before, attempts=col(OutboxRow.attempts) + 1, last_error=error[:500]
            )
        )


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
