"""The /rollback slash command."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.commands import (
    USAGE,
    ListOpen,
    OpenForm,
    OpenRollback,
    ShowHelp,
    ShowStatus,
    parse_command,
)
from handlers import blocks
from handlers.context import actor_from_command, idempotency_key
from handlers.deps import HandlerDeps


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    @app.command("/rollback")
    async def rollback_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        command = parse_command(str(body.get("text", "")))
        channel = str(body["channel_id"])
        if isinstance(command, ShowHelp | OpenForm):
            # The modal arrives with the Slack workflow; until then the form is the usage text.
            await ack(blocks.ephemeral(USAGE))
        elif isinstance(command, ShowStatus):
            await ack(blocks.status_reply(await deps.service.status(channel, command.request_id)))
        elif isinstance(command, ListOpen):
            await ack(blocks.list_reply(await deps.service.list_open(channel)))
        else:
            assert isinstance(command, OpenRollback)
            result = await deps.service.open_request(
                command,
                actor=actor_from_command(body),
                channel=channel,
                idempotency_key=idempotency_key(body),
            )
            if result.created:
                deps.metrics.requests_opened.inc()
            await ack(blocks.opened_ack(result.request, result.created))
        deps.metrics.commands.labels(outcome="ok").inc()
