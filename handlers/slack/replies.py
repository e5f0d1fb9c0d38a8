"""Answers the worker sends to the person behind a stored request, after Slack's HTTP answer
has gone: through the request's response_url (commands and clicks; it needs no channel
membership and shows only to that person), else as a direct message (modal submissions carry
no response_url). Failing to answer never fails the request; it is logged."""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blockkit.cards import Message

log = structlog.get_logger("rollbot.handlers")
# Slack answers a response_url within a second or two; an answer later than this is dropped
# (and logged) rather than holding the worker.
TIMEOUT = aiohttp.ClientTimeout(total=10)


async def answer(body: dict[str, Any], message: Message, client: AsyncWebClient) -> bool:
    """Show `message` to the person who sent `body`; False (and a log line) when Slack would
    not take it."""
    try:
        if body.get("response_url"):
            payload = {"response_type": "ephemeral", "replace_original": False, **message}
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as http,
                http.post(str(body["response_url"]), json=payload) as resp,
            ):
                resp.raise_for_status()
            return True
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        if user:
            fields = {k: v for k, v in message.items() if k in ("text", "blocks")}
            await client.chat_postMessage(channel=str(user), **fields)
            return True
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("answer_not_delivered", error=repr(exc))
    return False
