"""Modal submissions. What Slack requires in the answer stays there: the form's own checks
(pure: a missing field, a number that is not one) are shown on the field at once. Everything
else is stored in the inbox and the modal closes; the worker opens the request or records the
reason, and tells the person by direct message what it did or why it could not."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.usecases.inbox import InboxUnavailableError
from handlers.blockkit import cards
from handlers.blockkit.cards import Message
from handlers.blockkit.forms import FormError, read_open_form
from handlers.slack.context import actor_from_interaction, origin_of_form
from handlers.slack.deps import HandlerDeps
from handlers.slack.ids import BlockId, CallbackId, CardAction, FormOrigin
from handlers.slack.stored import NOT_STORED, RequestKind, store

# A blank reason is the form's own check, answered on the field.
REASONS = {
    CallbackId.DENY_REASON: "a denial needs a reason",
    CallbackId.OVERRIDE_REASON: "an emergency override needs a reason for the evidence pack",
    CallbackId.CANCEL_REASON: "a cancellation needs a reason",
}


def _reason(view: dict[str, Any]) -> str:
    return str(view["state"]["values"][BlockId.REASON.value]["value"].get("value") or "")


async def _open_form(body: dict[str, Any], deps: HandlerDeps) -> Message | None:
    view = body["view"]
    origin = FormOrigin.decode(str(view.get("private_metadata", "")))
    result = await deps.opening.open_request(
        read_open_form(view["state"]["values"]),
        actor=actor_from_interaction(body),
        origin=origin_of_form(origin),
        idempotency_key=f"view:{view['id']}",
    )
    if result.created:
        deps.metrics.requests_opened.inc()
    return cards.opened_ack(result.request, result.created)


async def _card_reason(body: dict[str, Any], deps: HandlerDeps) -> Message | None:
    view = body["view"]
    card = CardAction.decode(str(view.get("private_metadata", "")))
    actor, reason = actor_from_interaction(body), _reason(view)
    callback = view["callback_id"]
    if callback == CallbackId.DENY_REASON:
        await deps.approvals.deny(card.request_id, card.version, actor, reason)
    elif callback == CallbackId.OVERRIDE_REASON:
        await deps.approvals.declare_override(card.request_id, card.version, actor, reason)
    else:
        await deps.approvals.cancel(card.request_id, card.version, actor, reason)
    return None  # the card shows it


async def run_stored(body: dict[str, Any], deps: HandlerDeps) -> Message | None:
    """The worker's half: the stored submission's use case, and what to tell the person."""
    if body["view"]["callback_id"] == CallbackId.OPEN_FORM:
        return await _open_form(body, deps)
    return await _card_reason(body, deps)


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    async def submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        if view["callback_id"] == CallbackId.OPEN_FORM:
            try:
                read_open_form(view["state"]["values"])
            except FormError as exc:
                await ack(response_action="errors", errors={exc.block.value: str(exc)[:3000]})
                return
        elif not _reason(view).strip():
            blank = REASONS[CallbackId(view["callback_id"])]
            await ack(response_action="errors", errors={BlockId.REASON.value: blank})
            return
        try:
            await store(deps.inbox, RequestKind.VIEW, body)
        except InboxUnavailableError:
            # every one of our modals has a reason field, where a form-wide message shows
            await ack(response_action="errors", errors={BlockId.REASON.value: NOT_STORED})
            return
        await ack()

    for callback in (CallbackId.OPEN_FORM, *REASONS):
        app.view(callback.value)(submitted)
