"""What a delivery loop needs: each channel's queue in order, held by one replica at a time,
and what happens when Slack takes a notice, postpones it, or refuses it for good.

Notices are written by the use cases in the transaction of the change they report
(`uow.outbox.notify`); turning one into a Slack message is the delivering adapter's job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import structlog

from bot.domain.delivery import Refusal, fallbacks_for
from bot.domain.notices import Notice, NoticeKind
from bot.ports import Clock
from bot.store.uow import UnitOfWork

log = structlog.get_logger("rollbot.delivery")


class OutboxService:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        incidents_channel: str | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._incidents = incidents_channel

    async def waiting_count(self) -> int:
        async with self._uow() as uow:
            return await uow.outbox.waiting_count()

    async def ready_channels(self, limit: int = 200) -> list[str]:
        async with self._uow() as uow:
            return await uow.outbox.ready_channels(self._clock.now(), limit)

    async def claim(self, channel: str, holder: str, hold: timedelta) -> bool:
        now = self._clock.now()
        async with self._uow() as uow:
            return await uow.outbox.claim_channel(channel, holder, now, now + hold)

    async def release(self, channel: str, holder: str) -> None:
        async with self._uow() as uow:
            await uow.outbox.release_channel(channel, holder)

    async def waiting(self, channel: str, limit: int = 20) -> list[Notice]:
        async with self._uow() as uow:
            return await uow.outbox.waiting(channel, limit)

    async def delivered(
        self, notices: Sequence[Notice], ts: str | None, holder: str, hold: timedelta
    ) -> bool:
        """Mark what one Slack message carried as delivered, while this replica still holds
        the channel; False when it does not (another replica took the queue over)."""
        now = self._clock.now()
        async with self._uow() as uow:
            held = await uow.outbox.mark_delivered([n.id for n in notices], now, holder, now + hold)
            if not held:
                return False
            last = notices[-1]
            if last.kind is NoticeKind.REQUEST_OPENED and ts:
                await uow.requests.set_card(last.request.id, last.channel, ts)
            await uow.requests.reopen_channel(last.channel)
        return True

    async def card_posted(self, notice: Notice, channel: str, ts: str) -> None:
        async with self._uow() as uow:
            await uow.requests.set_card(notice.request.id, channel, ts)

    async def retry_later(self, notice: Notice, delay: timedelta, error: str) -> None:
        async with self._uow() as uow:
            await uow.outbox.mark_retry(notice.id, self._clock.now() + delay, error)

    async def refused(self, notice: Notice, refusal: Refusal, error: str) -> list[Notice]:
        """Slack refused `notice` for good. A closed channel fails its whole queue at once (each
        of them would be refused the same way) and closes the channel for its requests; a
        person hears about what they had to see, once per request. Returns what failed."""
        now = self._clock.now()
        async with self._uow() as uow:
            failed = [notice]
            if refusal is Refusal.CHANNEL_CLOSED:
                failed = await uow.outbox.waiting(notice.channel, limit=10_000) or [notice]
                await uow.requests.close_channel(notice.channel, error)
            await uow.outbox.mark_failed([n.id for n in failed], now, error)
            told: set[str] = set()
            for each in failed:
                if each.request.id in told:
                    continue
                fallbacks = fallbacks_for(each, refusal, error, self._incidents)
                for payload, where in fallbacks:
                    await uow.outbox.notify(each.request, payload, now, to=where)
                if fallbacks or refusal is Refusal.CHANNEL_CLOSED:
                    told.add(each.request.id)
        log.error(
            "slack_refused_notice",
            notice=notice.id,
            channel=notice.channel,
            error=error,
            refusal=refusal.value,
            failed=len(failed),
        )
        return failed
