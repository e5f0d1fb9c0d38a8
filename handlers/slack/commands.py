"""The /rollback slash command: parse the text into a typed command, hand it to its use case.

One table maps each command type to the listener step that runs it; each step returns the
private answer the person who typed the command sees.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases.commands import (
    ApproveRetroactively,
    Command,
    ListOpen,
    MeetObligationCommand,
    OpenForm,
    OpenRollback,
    ShowHelp,
    ShowHistory,
    ShowReport,
    ShowStatus,
)
from handlers.blockkit import cards, forms
from handlers.blockkit.cards import Message
from handlers.slack.context import actor_from_command, idempotency_key, origin_of_command
from handlers.slack.deps import HandlerDeps
from handlers.slack.grammar import USAGE, parse_command
from handlers.slack.ids import FormOrigin
from handlers.slack.reports import post_report


class Invocation:
    """Where a typed /rollback came from: the raw body, where it was typed, Slack's client."""

    def __init__(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        self.body = body
        self.client = client
        self.origin = origin_of_command(body)


# Each step takes the command type it is registered for.
Step = Callable[[Any, Invocation, HandlerDeps, AsyncAck], Awaitable[None]]


async def _help(command: ShowHelp, inv: Invocation, deps: HandlerDeps, ack: AsyncAck) -> None:
    await ack(cards.ephemeral(USAGE))


async def _report(command: ShowReport, inv: Invocation, deps: HandlerDeps, ack: AsyncAck) -> None:
    await deps.reports.check_channel(actor_from_command(inv.body).id, inv.origin.channel_id)
    await ack(cards.ephemeral("Preparing the rollback report; it will appear here."))
    await post_report(inv.client, deps, inv.origin.channel_id, command.month, deps.clock.now())


async def _form(command: OpenForm, inv: Invocation, deps: HandlerDeps, ack: AsyncAck) -> None:
    origin = FormOrigin(channel_id=inv.origin.channel_id, channel_name=inv.origin.channel_name)
    await inv.client.views_open(trigger_id=inv.body["trigger_id"], view=forms.open_form(origin))
    await ack()


async def _status(command: ShowStatus, inv: Invocation, deps: HandlerDeps, ack: AsyncAck) -> None:
    asker = actor_from_command(inv.body).id
    shown = await deps.queries.status_for(asker, inv.origin.channel_id, command.request_id)
    await ack(cards.status_reply(shown.request, shown.details))


async def _list(command: ListOpen, inv: Invocation, deps: HandlerDeps, ack: AsyncAck) -> None:
    await ack(cards.list_reply(await deps.queries.list_open(inv.origin.channel_id)))


async def _history(command: ShowHistory, inv: Invocation, deps: HandlerDeps, ack: AsyncAck) -> None:
    asker = actor_from_command(inv.body).id
    shown = await deps.queries.history_for(asker, inv.origin.channel_id, command.target)
    await ack(cards.history_reply(command.target.label, [(s.request, s.details) for s in shown]))


async def _meet(
    command: MeetObligationCommand, inv: Invocation, deps: HandlerDeps, ack: AsyncAck
) -> None:
    actor = actor_from_command(inv.body)
    request = await deps.aftercare.meet_obligation(
        command.request_id, command.kind, actor, command.evidence
    )
    what = command.kind.value.replace("_", " ")
    await ack(cards.ephemeral(f"Recorded {what} for {request.id}."))


async def _retro(
    command: ApproveRetroactively, inv: Invocation, deps: HandlerDeps, ack: AsyncAck
) -> None:
    actor = actor_from_command(inv.body)
    request = await deps.aftercare.approve_retroactively(command.request_id, actor)
    await ack(cards.ephemeral(f"Retroactive approval recorded for {request.id}."))


async def _open(command: OpenRollback, inv: Invocation, deps: HandlerDeps, ack: AsyncAck) -> None:
    result = await deps.opening.open_request(
        command,
        actor=actor_from_command(inv.body),
        origin=inv.origin,
        idempotency_key=idempotency_key(inv.body),
    )
    if result.created:
        deps.metrics.requests_opened.inc()
    answer: Message = cards.opened_ack(result.request, result.created)
    await ack(answer)


STEPS: dict[type[Any], Step] = {
    ShowHelp: _help,
    ShowReport: _report,
    OpenForm: _form,
    ShowStatus: _status,
    ListOpen: _list,
    ShowHistory: _history,
    MeetObligationCommand: _meet,
    ApproveRetroactively: _retro,
    OpenRollback: _open,
}


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    @app.command("/rollback")
    async def rollback_command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        command: Command = parse_command(str(body.get("text", "")))
        await STEPS[type(command)](command, Invocation(body, client), deps, ack)
        deps.metrics.commands.labels(outcome="ok").inc()
