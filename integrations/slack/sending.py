"""One Slack message for one or more notices: where the core placed it, the card posted again
when a person deleted it, card redraws and rollout progress coalesced.

Coalescing: redraws of one request's card waiting in a channel's queue become one redraw (the
newest state); consecutive progress lines of one rollout become one thread reply, updated in
place with `chat.update` as more lines come, instead of a reply a step.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.notices import (
    Notice,
    NoticeKind,
    Placement,
    RecoveryCharts,
    Reminder,
    RequestOpened,
    TimelineEntry,
)
from bot.usecases.outbox import OutboxService
from integrations.slack.refusals import CARD_GONE, slack_error

Render = Callable[[Notice, str | None], dict[str, Any]]
# Slack's limit for a message's text is 40,000 characters; a progress reply stays far below.
PROGRESS_LINES = 50


@dataclass(frozen=True)
class Batch:
    """Notices delivered as one Slack message; the last one says what the message shows."""

    notices: tuple[Notice, ...]

    @property
    def last(self) -> Notice:
        return self.notices[-1]

    @property
    def progress(self) -> bool:
        return _is_progress(self.last)


def _is_progress(notice: Notice) -> bool:
    return isinstance(notice.payload, TimelineEntry) and notice.payload.action == "progress"


def coalesce(notices: Sequence[Notice]) -> list[Batch]:
    """The channel's queue as messages, in order."""
    newest_card = {n.request.id: n.id for n in notices if n.kind is NoticeKind.CARD_UPDATE}
    batches: list[Batch] = []
    folded: dict[str, list[Notice]] = {}  # earlier redraws waiting for the newest one
    for notice in notices:
        if notice.kind is NoticeKind.CARD_UPDATE and newest_card[notice.request.id] != notice.id:
            folded.setdefault(notice.request.id, []).append(notice)
            continue
        if notice.kind is NoticeKind.CARD_UPDATE:
            batches.append(Batch((*folded.pop(notice.request.id, []), notice)))
            continue
        previous = batches[-1] if batches else None
        if (
            previous is not None
            and _is_progress(notice)
            and previous.progress
            and previous.last.request.id == notice.request.id
            and len(previous.notices) < PROGRESS_LINES
        ):
            batches[-1] = Batch((*previous.notices, notice))
            continue
        batches.append(Batch((notice,)))
    return batches


class NoticeSender:
    def __init__(self, client: AsyncWebClient, render: Render, outbox: OutboxService) -> None:
        self._client = client
        self._render = render
        self._outbox = outbox
        # request -> (channel, ts, lines) of its open progress reply
        self._progress: dict[str, tuple[str, str, tuple[str, ...]]] = {}

    async def send(self, batch: Batch, cards: dict[str, tuple[str, str]]) -> str | None:
        """Post the batch; return the ts of what it posted or redrew. `cards` (request ->
        channel, ts) is kept up to date with every card this posts."""
        notice = batch.last
        if notice.placement is Placement.MESSAGE:
            ts = await self._message(notice, cards.get(notice.request.id))
            if notice.kind is NoticeKind.REQUEST_OPENED:
                cards[notice.request.id] = (notice.channel, ts)  # for what follows it here
            return ts
        card = cards.get(notice.request.id)
        if card is None:
            card = await self._post_card(notice, cards)
            if notice.placement is Placement.CARD:
                return card[1]  # the card was just drawn from this very state
        try:
            return await self._placed(batch, card)
        except SlackApiError as exc:
            if slack_error(exc) not in CARD_GONE:
                raise
        # a person deleted the card: post it again, then what was meant for it
        card = await self._post_card(notice, cards)
        return card[1] if notice.placement is Placement.CARD else await self._placed(batch, card)

    async def _message(self, notice: Notice, card: tuple[str, str] | None) -> str:
        link = None
        if isinstance(notice.payload, Reminder) and notice.payload.link_thread and card:
            found = await self._client.chat_getPermalink(channel=card[0], message_ts=card[1])
            link = str(found["permalink"])
        resp = await self._client.chat_postMessage(
            channel=notice.channel, **self._render(notice, link)
        )
        return str(resp["ts"])

    async def _post_card(
        self, notice: Notice, cards: dict[str, tuple[str, str]]
    ) -> tuple[str, str]:
        """The request card, posted (again) in the request's channel, as the notice last saw
        the request."""
        drawn = dataclasses.replace(notice, payload=RequestOpened())
        resp = await self._client.chat_postMessage(
            channel=notice.request.channel, **self._render(drawn, None)
        )
        card = (notice.request.channel, str(resp["ts"]))
        await self._outbox.card_posted(notice, *card)
        cards[notice.request.id] = card
        self._progress.pop(notice.request.id, None)
        return card

    async def _placed(self, batch: Batch, card: tuple[str, str]) -> str:
        notice = batch.last
        channel, ts = card
        if notice.placement is Placement.CARD:
            await self._client.chat_update(channel=channel, ts=ts, **self._render(notice, None))
            return ts
        if batch.progress:
            return await self._progress_reply(batch, card)
        self._progress.pop(notice.request.id, None)  # the next progress starts a reply of its own
        if isinstance(notice.payload, RecoveryCharts):
            return await self._charts(notice.payload, card)
        resp = await self._client.chat_postMessage(
            channel=channel, thread_ts=ts, **self._render(notice, None)
        )
        return str(resp["ts"])

    async def _charts(self, charts: RecoveryCharts, card: tuple[str, str]) -> str:
        """PNGs shared in the card's thread (files.getUploadURLExternal, the upload, then
        files.completeUploadExternal with the thread's ts)."""
        channel, thread = card
        await self._client.files_upload_v2(
            channel=channel,
            thread_ts=thread,
            initial_comment=charts.comment,
            file_uploads=[
                {"file": base64.b64decode(f.png_base64), "filename": f.name, "title": f.title}
                for f in charts.files
            ],
        )
        return thread

    async def _progress_reply(self, batch: Batch, card: tuple[str, str]) -> str:
        """Rollout progress as one thread reply that grows in place."""
        request_id = batch.last.request.id
        channel, thread = card
        lines = tuple(str(self._render(n, None)["text"]) for n in batch.notices)
        open_reply = self._progress.get(request_id)
        if open_reply is not None and open_reply[0] == channel:
            _, ts, earlier = open_reply
            shown = (*earlier, *lines)[-PROGRESS_LINES:]
            await self._client.chat_update(channel=channel, ts=ts, text="\n".join(shown))
        else:
            shown = lines
            resp = await self._client.chat_postMessage(
                channel=channel, thread_ts=thread, text="\n".join(shown)
            )
            ts = str(resp["ts"])
        self._progress[request_id] = (channel, ts, shown)
        return ts
