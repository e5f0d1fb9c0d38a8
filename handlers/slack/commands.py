"""The /rollback slash command."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases.commands import (
    USAGE,
    ApproveRetroactively,
    ListOpen,
    MeetObligationCommand,
    OpenForm,
    OpenRollback,
    ShowHelp,
    ShowHistory,
    ShowReport,
    ShowStatus,
    parse_command,
)
from handlers.blockkit import cards as blocks
from handlers.blockkit import forms
from handlers.slack.context import actor_from_command, idempotency_key, origin_of_command
from handlers.slack.deps import HandlerDeps
from handlers.slack.ids import FormOrigin
from handlers.slack.reports import post_report


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    @app.command("/rollback")
    async def rollback_command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        command = parse_command(str(body.get("text", "")))
        origin = origin_of_command(body)
        if isinstance(command, ShowHelp):
            await ack(blocks.ephemeral(USAGE))
        elif isinstance(command, ShowReport):
            await ack(blocks.ephemeral("Preparing the rollback report; it will appear here."))
            await post_report(client, deps, origin.channel_id, command.month, deps.clock.now())
        elif isinstance(command, OpenForm):
            form = forms.open_form(
                FormOrigin(channel_id=origin.channel_id, channel_name=origin.channel_name)
            )
            await client.views_open(trigger_id=body["trigger_id"], view=form)
            await ack()
        elif isinstance(command, ShowStatus):
            await ack(
                blocks.status_reply(
                    await deps.service.status(origin.channel_id, command.request_id)
                )
            )
        elif isinstance(command, ListOpen):
            await ack(blocks.list_reply(await deps.service.list_open(origin.channel_id)))
        elif isinstance(command, MeetObligationCommand):
            actor = actor_from_command(body)
            request = await deps.flows.meet_obligation(
                command.request_id, command.kind, actor, command.evidence
            )
            what = command.kind.value.replace("_", " ")
            await ack(blocks.ephemeral(f"Recorded {what} for {request.id}."))
        elif isinstance(command, ApproveRetroactively):
            actor = actor_from_command(body)
            request = await deps.flows.approve_retroactively(command.request_id, actor)
            await ack(blocks.ephemeral(f"Retroactive approval recorded for {request.id}."))
        elif isinstance(command, ShowHistory):
            await ack(
                blocks.history_reply(
                    command.target.label, await deps.service.history(command.target)
                )
            )
        else:
            assert isinstance(command, OpenRollback)
            result = await deps.service.open_request(
                command,
                actor=actor_from_command(body),
                origin=origin,
                idempotency_key=idempotency_key(body),
            )
            if result.created:
                deps.metrics.requests_opened.inc()
            await ack(blocks.opened_ack(result.request, result.created))
        deps.metrics.commands.labels(outcome="ok").inc()
