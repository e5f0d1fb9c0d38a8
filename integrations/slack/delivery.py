"""Delivers outbox notices to Slack: each channel its own ordered queue, held by one replica at
a time, paced the way Slack allows, with card redraws and rollout progress coalesced.
What each notice says is rendered by the renderer the composition root hands in.

A notice Slack postpones (429, 5xx, a dropped connection) holds back the rest of its channel,
so a timeline is delayed by an outage but never reordered; other channels keep flowing. A
notice Slack refuses for good is marked failed, never retried, and a person is told
(`OutboxService.refused`). A card a person deleted is posted again.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.metrics import Metrics
from bot.domain.notices import Notice
from bot.ports import Clock
from bot.store.uow import Committed
from bot.usecases.background import WakeLoop
from bot.usecases.outbox import OutboxService
from integrations.slack.pacing import ChannelPace
from integrations.slack.refusals import MAX_BACKOFF, SLACK_FAILURES, SlackFailure, classify
from integrations.slack.sending import Batch, NoticeSender, coalesce

log = structlog.get_logger("rollbot.delivery")
__all__ = ["MAX_BACKOFF", "SlackDelivery", "client_for"]

# How long a replica holds a channel's queue without delivering before another may take it.
CHANNEL_HOLD = timedelta(seconds=30)
# Channels delivered side by side by one replica.
CHANNELS_AT_ONCE = 8


def replica_name() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class SlackDelivery:
    def __init__(
        self,
        outbox: OutboxService,
        client: AsyncWebClient,
        metrics: Metrics,
        clock: Clock,
        render: Callable[[Notice, str | None], dict[str, Any]],
        *,
        poll_interval: float = 1.0,
        pace: ChannelPace | None = None,
        holder: str | None = None,
    ) -> None:
        self._outbox = outbox
        self._metrics = metrics
        self._clock = clock
        self._pace = pace or ChannelPace()
        self._sender = NoticeSender(client, render, outbox)
        self.holder = holder or replica_name()
        self._loop = WakeLoop("slack_delivery", self.drain, poll=poll_interval, log=log)
        self._lock = asyncio.Lock()

    def wake(self) -> None:
        self._loop.wake()

    def on_commit(self, committed: Committed) -> None:
        """After a commit that wrote notices: deliver them now rather than at the next poll."""
        if committed.notices_written:
            self._loop.wake()

    async def drain(self) -> int:
        """Deliver everything deliverable now, channel by channel; return how many notices
        went out."""
        async with self._lock:
            sent = 0
            limit = asyncio.Semaphore(CHANNELS_AT_ONCE)

            async def one(channel: str) -> tuple[int, bool]:
                async with limit:
                    return await self._channel(channel)

            while True:
                channels = await self._outbox.ready_channels()
                self._metrics.outbox_pending.set(await self._outbox.waiting_count())
                if not channels:
                    return sent
                rounds = await asyncio.gather(*(one(c) for c in channels))
                sent += sum(n for n, _ in rounds)
                if not any(moved for _, moved in rounds):
                    return sent

    async def _channel(self, channel: str) -> tuple[int, bool]:
        """One channel's queue while this replica holds it: (notices delivered, whether the
        queue moved at all: delivered or failed)."""
        if not await self._outbox.claim(channel, self.holder, CHANNEL_HOLD):
            return 0, False  # another replica is delivering it
        sent, moved = 0, False
        try:
            while True:
                notices = await self._outbox.waiting(channel)
                if not notices:
                    break
                delivered, changed, go_on = await self._batch(channel, notices)
                sent, moved = sent + delivered, moved or changed
                if not go_on:
                    break
        finally:
            await self._outbox.release(channel, self.holder)
        return sent, moved

    async def _batch(self, channel: str, notices: list[Notice]) -> tuple[int, bool, bool]:
        """(delivered, moved, keep going with this channel)."""
        cards: dict[str, tuple[str, str]] = {n.request.id: n.card for n in notices if n.card}
        sent, moved = 0, False
        for batch in coalesce(notices):
            head = batch.notices[0]
            if head.not_before is not None and head.not_before > self._clock.now():
                return sent, moved, False
            await self._pace.take(channel)
            try:
                ts = await self._sender.send(batch, cards)
            except SLACK_FAILURES as exc:  # sorted below: postponed, or refused for good
                go_on = await self._failed(batch, exc)
                return sent, True if go_on else moved, go_on
            if not await self._outbox.delivered(batch.notices, ts, self.holder, CHANNEL_HOLD):
                log.warning("slack_channel_taken_over", channel=channel, holder=self.holder)
                return sent, moved, False
            self._metrics.outbox_delivered.inc(len(batch.notices))
            sent, moved = sent + len(batch.notices), True
        return sent, moved, True

    async def _failed(self, batch: Batch, error: SlackFailure) -> bool:
        """Postpone or refuse; True when the channel's queue can go on with the next notice."""
        notice = batch.notices[0]
        answer = classify(error, notice.attempts, self._clock.now())
        if answer.retry_in is not None:
            delay = answer.retry_in
            self._metrics.outbox_retries.labels(reason=answer.reason).inc()
            log.warning(
                "slack_delivery_postponed",
                notice=notice.id,
                reason=answer.reason,
                delay=delay.total_seconds(),
            )
            await self._outbox.retry_later(notice, delay, f"{answer.reason}: {error}")
            return False
        if answer.refusal is None:  # unreachable: every answer either waits or refuses
            raise error
        failed = await self._outbox.refused(notice, answer.refusal, answer.reason)
        self._metrics.outbox_failed.labels(error=answer.reason).inc(len(failed))
        log.error(
            "delivery.failed",
            request=notice.request.id,
            target=notice.request.target.label,
            channel=notice.channel,
            error=answer.reason,
            notices=len(failed),
        )
        return True

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()


def client_for(token: str, base_url: str | None, timeout: float = 10.0) -> AsyncWebClient:
    """Slack's client; every Web API call gives up after `timeout` seconds."""
    kwargs: dict[str, Any] = {"token": token, "timeout": int(max(1, timeout))}
    if base_url:
        kwargs["base_url"] = base_url if base_url.endswith("/") else base_url + "/"
    return AsyncWebClient(**kwargs)
