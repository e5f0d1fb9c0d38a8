"""The one error handler: domain refusals become an ephemeral line; anything else gets an id."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.errors import DomainError
from bot.ports import AdapterError
from bot.store.requests import TargetBusyError
from handlers.blockkit.cards import escape
from handlers.slack.deps import HandlerDeps
from handlers.slack.grammar import CommandError

log = structlog.get_logger("rollbot.handlers")


def message_for(error: Exception) -> tuple[str, str]:
    """(outcome label, text for the person) for an exception raised by a listener."""
    if isinstance(error, TargetBusyError):
        busy = error.open_request
        return "refused", (
            f":information_source: `{escape(busy.target.label)}` already has an open rollback "
            f"request: *{busy.id}* ({busy.state.value.replace('_', ' ')}) in <#{busy.channel}>. "
            "Follow it there; rollbot keeps one open request per target."
        )
    if isinstance(error, CommandError):
        return "usage_error", f":warning: {error}"
    if isinstance(error, DomainError | AdapterError):
        return "refused", f":no_entry_sign: {error}"
    correlation = uuid.uuid4().hex[:12]
    log.error("listener_failed", correlation_id=correlation, error=repr(error), exc_info=error)
    return "error", (
        f":boom: Something went wrong on our side; nothing was changed. "
        f"Quote correlation id `{correlation}` to the rollbot maintainers."
    )


async def _tell_privately(body: dict[str, Any], text: str, client: AsyncWebClient) -> None:
    """A refusal after a click: through the click's response_url, which needs no channel
    membership; else an ephemeral post. Failing to tell must never fail the request."""
    try:
        if body.get("response_url"):
            async with aiohttp.ClientSession() as http:
                payload = {"response_type": "ephemeral", "replace_original": False, "text": text}
                async with http.post(body["response_url"], json=payload) as resp:
                    resp.raise_for_status()
            return
        channel = (body.get("channel") or {}).get("id")
        user = (body.get("user") or {}).get("id")
        if channel and user:
            await client.chat_postEphemeral(channel=channel, user=user, text=text)
    except (SlackApiError, aiohttp.ClientError) as exc:
        log.warning("refusal_not_delivered", error=repr(exc))


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    @app.error
    async def on_error(
        error: Exception,
        body: dict[str, Any],
        response: BoltResponse | None,
        client: AsyncWebClient,
    ) -> None:
        outcome, text = message_for(error)
        deps.metrics.commands.labels(outcome=outcome).inc()
        if "command" in body and response is not None:
            # A slash command's HTTP answer is shown to the person who typed it, and only to them.
            response.status = 200
            response.body = json.dumps({"response_type": "ephemeral", "text": text})
            response.headers["content-type"] = ["application/json;charset=utf-8"]
            return
        await _tell_privately(body, text, client)
        if response is not None:
            response.status = 200
            response.body = ""
