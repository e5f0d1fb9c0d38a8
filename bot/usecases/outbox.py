"""What a delivery loop needs: pending notices in order, and where each one ended up.

Notices are written by the use cases in the transaction of the change they report
(`uow.outbox.notify`); turning one into a Slack message is the delivering adapter's job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.domain.notices import Notice, NoticeKind
from bot.ports import Clock
from bot.store.uow import UnitOfWork


class OutboxService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def pending(self, limit: int = 100) -> list[Notice]:
        async with self._uow() as uow:
            return await uow.outbox.pending(limit)

    async def delivered(self, notice: Notice, ts: str | None) -> None:
        async with self._uow() as uow:
            await uow.outbox.mark_delivered(notice.id, self._clock.now())
            if notice.kind is NoticeKind.REQUEST_OPENED and ts:
                await uow.requests.set_card(notice.request.id, notice.channel, ts)

    async def retry_later(self, notice: Notice, delay: timedelta, error: str) -> None:
        async with self._uow() as uow:
            await uow.outbox.mark_retry(notice.id, self._clock.now() + delay, error)
