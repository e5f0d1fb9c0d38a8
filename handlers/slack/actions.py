"""Card buttons. A click that acts is stored in the inbox and acked; the worker hands it to
its use case and tells the person of a refusal. Buttons that need a reason open their modal at
once (the trigger expires in 3 seconds); the modal's submission is judged (handlers.slack.modals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.events import ObligationKind
from bot.domain.people import Person
from bot.usecases.inbox import InboxUnavailableError
from handlers.blockkit import cards
from handlers.slack.context import actor_from_interaction
from handlers.slack.deps import HandlerDeps
from handlers.slack.ids import ActionId, CallbackId, CardAction
from handlers.slack.replies import answer
from handlers.slack.stored import NOT_STORED, RequestKind, store

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


async def run_stored(body: dict[str, Any], deps: HandlerDeps) -> None:
    """The worker's half: the stored click's use case (a refusal raises, for the person)."""
    action = ActionId(body["actions"][0]["action_id"])
    card = CardAction.decode(str(body["actions"][0].get("value", "")))
    await CLICKS[action](deps, card, actor_from_interaction(body))


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    async def on_click(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        try:
            await store(deps.inbox, RequestKind.CLICK, body)
        except InboxUnavailableError:
            await ack()
            await answer(body, cards.ephemeral(NOT_STORED), client)
            return
        await ack()

    async def ask_why(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        # Who may deny is judged when the reason is submitted: a role lookup here would hold
        # the trigger, which expires in 3 seconds.
        await ack()
        card: CardAction = context["card"]
        action = ActionId(body["actions"][0]["action_id"])
        callback, title, question = ASK_WHY[action]
        modal = cards.reason_modal(callback, card, title, question)
        await client.views_open(trigger_id=body["trigger_id"], view=modal)

    for action in CLICKS:
        app.action(action.value)(on_click)
    for action in ASK_WHY:
        app.action(action.value)(ask_why)
