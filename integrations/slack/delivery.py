"""Delivers outbox notices to Slack in order per channel, honouring 429 Retry-After and 5xx.
What each notice says is rendered by the renderer the composition root hands in.

A failed delivery holds back the rest of that channel's notices, so a timeline is delayed by an
outage but never reordered or dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.metrics import Metrics
from bot.domain.notices import Notice, NoticeKind, Placement, Reminder
from bot.ports import Clock
from bot.store.uow import Committed
from bot.usecases.outbox import OutboxService

log = structlog.get_logger("rollbot.delivery")
# An incident timeline must catch up soon after Slack recovers: never wait longer than this.
MAX_BACKOFF = timedelta(seconds=20)


class CardNotPostedError(Exception):
    """An update whose card is not in Slack yet; it waits, as everything after it in the channel."""


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)


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
    ) -> None:
        self._outbox = outbox
        self._client = client
        self._metrics = metrics
        self._clock = clock
        self._render = render
        self._poll = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def wake(self) -> None:
        self._wake.set()

    def on_commit(self, committed: Committed) -> None:
        """After a commit that wrote notices: deliver them now rather than at the next poll."""
        if committed.notices_written:
            self._wake.set()

    async def _send(self, notice: Notice, card: tuple[str, str] | None) -> str | None:
        """Send one notice where the core placed it; return the ts of what it posted."""
        if notice.placement is Placement.MESSAGE:
            link = None
            if isinstance(notice.payload, Reminder) and notice.payload.link_thread and card:
                found = await self._client.chat_getPermalink(channel=card[0], message_ts=card[1])
                link = str(found["permalink"])
            message = self._render(notice, link)
            resp = await self._client.chat_postMessage(channel=notice.channel, **message)
            return str(resp["ts"])
        if card is None:
            raise CardNotPostedError(notice.request.id)
        card_channel, card_ts = card
        if notice.placement is Placement.CARD:
            await self._client.chat_update(
                channel=card_channel, ts=card_ts, **self._render(notice, None)
            )
            return card_ts
        resp = await self._client.chat_postMessage(
            channel=card_channel, thread_ts=card_ts, **self._render(notice, None)
        )
        return str(resp["ts"])

    async def _postpone(self, notice: Notice, error: Exception) -> None:
        delay = _backoff(notice.attempts)
        reason = "error"
        if isinstance(error, SlackApiError):
            status = error.response.status_code
            if status == 429:
                reason = "ratelimited"
                delay = timedelta(seconds=int(error.response.headers.get("Retry-After", "1")))
            elif status >= 500:
                reason = "server_error"
            else:
                reason = str(error.response.get("error", "api_error"))
        elif isinstance(error, aiohttp.ClientError | asyncio.TimeoutError):
            reason = "connection"
        elif isinstance(error, CardNotPostedError):
            reason = "card_not_posted"
        self._metrics.outbox_retries.labels(reason=reason).inc()
        log.warning(
            "slack_delivery_postponed", notice=notice.id, reason=reason, delay=delay.total_seconds()
        )
        await self._outbox.retry_later(notice, delay, f"{reason}: {error}")

    async def drain(self) -> int:
        """Deliver everything deliverable now; return how many notices went out."""
        async with self._lock:
            sent = 0
            while True:
                notices = await self._outbox.pending()
                self._metrics.outbox_pending.set(len(notices))
                held: set[str] = set()
                progressed = False
                # Cards posted in this round, for the updates that follow them in the same batch.
                cards = {n.request.id: n.card for n in notices if n.card}
                for notice in notices:
                    if notice.channel in held:
                        continue
                    if notice.not_before is not None and notice.not_before > self._clock.now():
                        held.add(notice.channel)
                        continue
                    request_id = notice.request.id
                    try:
                        ts = await self._send(notice, cards.get(request_id))
                    except (
                        TimeoutError,
                        SlackApiError,
                        aiohttp.ClientError,
                        CardNotPostedError,
                    ) as exc:
                        held.add(notice.channel)
                        await self._postpone(notice, exc)
                        continue
                    await self._outbox.delivered(notice, ts)
                    if notice.kind is NoticeKind.REQUEST_OPENED and ts:
                        cards[request_id] = (notice.channel, ts)
                    self._metrics.outbox_delivered.inc()
                    sent += 1
                    progressed = True
                if not progressed:
                    return sent

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            self._wake.clear()
            try:
                await self.drain()
            except Exception as exc:  # the loop must outlive any one bad delivery round
                log.error("slack_delivery_round_failed", error=repr(exc), exc_info=exc)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="slack-delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def client_for(token: str, base_url: str | None, timeout: float = 10.0) -> AsyncWebClient:
    """Slack's client; every Web API call gives up after `timeout` seconds."""
    kwargs: dict[str, Any] = {"token": token, "timeout": int(max(1, timeout))}
    if base_url:
        kwargs["base_url"] = base_url if base_url.endswith("/") else base_url + "/"
    return AsyncWebClient(**kwargs)
