"""Card buttons. Each acks, then hands the click to one use case; refusals go to the person by
the one error handler. Buttons that need a reason open a modal (handlers.slack.modals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.events import ObligationKind
from bot.domain.people import Person
from handlers.blockkit import cards
from handlers.slack.context import actor_from_interaction
from handlers.slack.deps import HandlerDeps
from handlers.slack.ids import ActionId, CallbackId, CardAction

Click = Callable[[HandlerDeps, CardAction, Person], Awaitable[object]]

# Buttons that act at once: the use case each click goes to.
CLICKS: dict[ActionId, Click] = {
    ActionId.CHOOSE_ROLLBACK: lambda d, c, by: d.decisions.choose_rollback(
        c.request_id, c.version, by
    ),
    ActionId.CHOOSE_FORWARD_FIX: lambda d, c, by: d.decisions.choose_forward_fix(
        c.request_id, c.version, by
    ),
    ActionId.APPROVE: lambda d, c, by: d.approvals.approve(c.request_id, c.version, by),
    ActionId.CUSTOMERS_NOTIFIED: lambda d, c, by: d.aftercare.meet_obligation(
        c.request_id,
        ObligationKind.CUSTOMER_NOTIFICATION,
        by,
        "confirmed with the button on the card",
    ),
    ActionId.CONFIRM_RECOVERY: lambda d, c, by: d.aftercare.confirm_recovery(c.request_id, by),
}

# Buttons that ask why first: the modal each opens (callback, title, question).
ASK_WHY: dict[ActionId, tuple[CallbackId, str, str]] = {
    ActionId.DENY: (CallbackId.DENY_REASON, "Deny rollback", "Why deny this rollback?"),
    ActionId.OVERRIDE: (
        CallbackId.OVERRIDE_REASON,
        "Emergency override",
        "Why can this rollback not wait for approval?",
    ),
    ActionId.CANCEL: (CallbackId.CANCEL_REASON, "Cancel request", "Why cancel this request?"),
}


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    async def on_click(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        action = ActionId(body["actions"][0]["action_id"])
        await CLICKS[action](deps, context["card"], actor_from_interaction(body))

    async def ask_why(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await ack()
        card: CardAction = context["card"]
        action = ActionId(body["actions"][0]["action_id"])
        if action is ActionId.DENY:  # refuse a denier before asking for a reason
            await deps.approvals.check_can_deny(card.request_id, actor_from_interaction(body))
        callback, title, question = ASK_WHY[action]
        modal = cards.reason_modal(callback, card, title, question)
        await client.views_open(trigger_id=body["trigger_id"], view=modal)

    for action in CLICKS:
        app.action(action.value)(on_click)
    for action in ASK_WHY:
        app.action(action.value)(ask_why)
