"""The /rollback slash command. The listener answers at once: help, usage errors and the
form (views.open must use the trigger within 3 seconds) inline; everything else is stored in
the inbox and answered with a receipt. The worker then runs the step for the command's type
(one table below) and shows the step's answer to the person through the command's
response_url.
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
    ShowDrills,
    ShowHelp,
    ShowHistory,
    ShowReport,
    ShowStatus,
)
from bot.usecases.inbox import InboxUnavailableError
from handlers.blockkit import cards, forms
from handlers.blockkit.cards import Message, escape
from handlers.blockkit.drills import drills_reply
from handlers.slack.context import actor_from_command, idempotency_key, origin_of_command
from handlers.slack.deps import HandlerDeps
from handlers.slack.grammar import USAGE, parse_command
from handlers.slack.ids import FormOrigin
from handlers.slack.reports import post_report
from handlers.slack.stored import NOT_STORED, RequestKind, store


class Invocation:
    """Where a stored /rollback came from: Slack's raw body, where it was typed, and the client
    the step posts with."""

    def __init__(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        self.body = body
        self.client = client
        self.origin = origin_of_command(body)


# Each step takes the command type it is registered for and returns the person's answer.
Step = Callable[[Any, Invocation, HandlerDeps], Awaitable[Message | None]]


async def _report(command: ShowReport, inv: Invocation, deps: HandlerDeps) -> Message | None:
    await deps.reports.check_channel(actor_from_command(inv.body).id, inv.origin.channel_id)
    await post_report(inv.client, deps, inv.origin.channel_id, command.month, deps.clock.now())
    return None


async def _status(command: ShowStatus, inv: Invocation, deps: HandlerDeps) -> Message | None:
    asker = actor_from_command(inv.body).id
    shown = await deps.queries.status_for(asker, inv.origin.channel_id, command.request_id)
    return cards.status_reply(shown.request, shown.details)


async def _list(command: ListOpen, inv: Invocation, deps: HandlerDeps) -> Message | None:
    return cards.list_reply(await deps.queries.list_open(inv.origin.channel_id))


async def _history(command: ShowHistory, inv: Invocation, deps: HandlerDeps) -> Message | None:
    asker = actor_from_command(inv.body).id
    shown = await deps.queries.history_for(asker, inv.origin.channel_id, command.target)
    return cards.history_reply(command.target.label, [(s.request, s.details) for s in shown])


async def _drills(command: ShowDrills, inv: Invocation, deps: HandlerDeps) -> Message | None:
    return drills_reply(command.target.label, await deps.queries.drills(command.target))


async def _meet(
    command: MeetObligationCommand, inv: Invocation, deps: HandlerDeps
) -> Message | None:
    actor = actor_from_command(inv.body)
    request = await deps.aftercare.meet_obligation(
        command.request_id, command.kind, actor, command.evidence
    )
    what = command.kind.value.replace("_", " ")
    return cards.ephemeral(f"Recorded {what} for {request.id}.")


async def _retro(
    command: ApproveRetroactively, inv: Invocation, deps: HandlerDeps
) -> Message | None:
    actor = actor_from_command(inv.body)
    request = await deps.aftercare.approve_retroactively(command.request_id, actor)
    return cards.ephemeral(f"Retroactive approval recorded for {request.id}.")


async def _open(command: OpenRollback, inv: Invocation, deps: HandlerDeps) -> Message | None:
    result = await deps.opening.open_request(
        command,
        actor=actor_from_command(inv.body),
        origin=inv.origin,
        idempotency_key=idempotency_key(inv.body),
    )
    if result.created:
        deps.metrics.requests_opened.inc()
    return cards.opened_ack(result.request, result.created)


STEPS: dict[type[Any], Step] = {
    ShowReport: _report,
    ShowStatus: _status,
    ListOpen: _list,
    ShowHistory: _history,
    ShowDrills: _drills,
    MeetObligationCommand: _meet,
    ApproveRetroactively: _retro,
    OpenRollback: _open,
}


def receipt(command: Command) -> Message | None:
    """What the person sees at once, before the worker's answer."""
    if isinstance(command, OpenRollback):
        return cards.ephemeral(
            f":hourglass_flowing_sand: Opening a rollback request for "
            f"`{escape(command.target.label)}`; its card follows in a moment."
        )
    if isinstance(command, ShowReport):
        return cards.ephemeral("Preparing the rollback report; it will appear here.")
    return None  # the answer itself follows within a moment


async def run_stored(
    body: dict[str, Any], deps: HandlerDeps, client: AsyncWebClient
) -> Message | None:
    """The worker's half: the stored command's step, and its answer for the person."""
    command = parse_command(str(body.get("text", "")))
    return await STEPS[type(command)](command, Invocation(body, client), deps)


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    @app.command("/rollback")
    async def rollback_command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        command: Command = parse_command(str(body.get("text", "")))  # a usage error: inline
        if isinstance(command, ShowHelp):
            await ack(cards.ephemeral(USAGE))
        elif isinstance(command, OpenForm):
            origin = origin_of_command(body)
            form = forms.open_form(
                FormOrigin(channel_id=origin.channel_id, channel_name=origin.channel_name)
            )
            await client.views_open(trigger_id=body["trigger_id"], view=form)
            await ack()
        else:
            try:
                await store(deps.inbox, RequestKind.COMMAND, body)
            except InboxUnavailableError:
                await ack(cards.ephemeral(NOT_STORED))
                return
            said = receipt(command)
            await (ack(said) if said is not None else ack())
        deps.metrics.commands.labels(outcome="ok").inc()
