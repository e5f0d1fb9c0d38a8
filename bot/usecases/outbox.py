"""Slack-bound notices: written in the transaction of the change they report, delivered later.

A notice names what happened in rollbot's terms and carries a snapshot of the request; turning it
into a Slack message is the delivering adapter's job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.request import RollbackRequest
from bot.ports import Clock
from bot.store.uow import UnitOfWork


class NoticeKind(StrEnum):
    REQUEST_OPENED = "request_opened"  # post the request card in the incident channel
    TIMELINE = "timeline"  # a threaded reply under the card: what happened, when, by whom
    CARD_UPDATE = "card_update"  # redraw the card in place
    SUMMARY = "summary"  # the closing message of a request that reached its end
    REMINDER = "reminder"  # an overdue obligation, posted in the channel until it is met
    PAGE = "page"  # who the severity pages, as soon as the request opens
    POSTMORTEM_DRAFT = "postmortem_draft"  # after an executed rollback: a draft to complete


@dataclass(frozen=True)
class Notice:
    id: int
    channel: str
    kind: NoticeKind
    request: RollbackRequest | None
    data: dict[str, Any]
    attempts: int
    not_before: datetime | None
    card: tuple[str, str] | None
    at: datetime


async def put_notice(
    uow: UnitOfWork,
    kind: NoticeKind,
    request: RollbackRequest,
    now: datetime,
    *,
    to: str | None = None,
    **data: Any,
) -> None:
    """`to` is another conversation than the request's channel: a user ID for a direct message."""
    payload = {"request": request.model_dump(mode="json"), "data": data, "at": now.isoformat()}
    await uow.outbox.put(
        channel=to or request.channel,
        kind=kind.value,
        request_id=request.id,
        payload=payload,
        now=now,
    )


class OutboxService:
    """What a delivery loop needs: pending notices in order, and where each one ended up."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def pending(self, limit: int = 100) -> list[Notice]:
        async with self._uow() as uow:
            rows = await uow.outbox.pending(limit)
            notices = []
            cards: dict[str, tuple[str, str] | None] = {}
            for row in rows:
                body = json.loads(row.payload)
                request = (
                    RollbackRequest.model_validate(body["request"]) if body.get("request") else None
                )
                if row.request_id and row.request_id not in cards:
                    cards[row.request_id] = await uow.requests.card(row.request_id)
                card = cards.get(row.request_id) if row.request_id else None
                assert row.id is not None
                notices.append(
                    Notice(
                        id=row.id,
                        channel=row.channel_id,
                        kind=NoticeKind(row.kind),
                        request=request,
                        data=body.get("data", {}),
                        attempts=row.attempts,
                        not_before=row.not_before,
                        card=card,
                        at=datetime.fromisoformat(body["at"]),
                    )
                )
            return notices

    async def delivered(self, notice: Notice, ts: str | None) -> None:
        async with self._uow() as uow:
            await uow.outbox.mark_delivered(notice.id, self._clock.now())
            if notice.kind is NoticeKind.REQUEST_OPENED and ts and notice.request is not None:
                await uow.requests.set_card(notice.request.id, notice.channel, ts)

    async def retry_later(self, notice: Notice, delay: timedelta, error: str) -> None:
        async with self._uow() as uow:
            await uow.outbox.mark_retry(notice.id, self._clock.now() + delay, error)
