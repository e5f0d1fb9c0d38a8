"""Card buttons. Each acks, then calls one flow; refusals go to the person by @app.error."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.events import ObligationKind
from handlers.blockkit import cards as blocks
from handlers.slack.context import actor_from_interaction
from handlers.slack.deps import HandlerDeps
from handlers.slack.ids import ActionId, CallbackId, CardAction


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    flows = deps.flows

    @app.action(ActionId.CHOOSE_ROLLBACK.value)
    async def choose_rollback(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        card: CardAction = context["card"]
        await flows.choose_rollback(card.request_id, card.version, actor_from_interaction(body))

    @app.action(ActionId.CHOOSE_FORWARD_FIX.value)
    async def choose_forward_fix(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        card: CardAction = context["card"]
        await flows.choose_forward_fix(card.request_id, card.version, actor_from_interaction(body))

    @app.action(ActionId.APPROVE.value)
    async def approve(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        card: CardAction = context["card"]
        await flows.approve(card.request_id, card.version, actor_from_interaction(body))

    @app.action(ActionId.DENY.value)
    async def deny(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await ack()
        card: CardAction = context["card"]
        await flows.check_can_deny(card.request_id, actor_from_interaction(body))
        modal = blocks.reason_modal(
            CallbackId.DENY_REASON, card, "Deny rollback", "Why deny this rollback?"
        )
        await client.views_open(trigger_id=body["trigger_id"], view=modal)

    @app.action(ActionId.OVERRIDE.value)
    async def override(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await ack()
        card: CardAction = context["card"]
        modal = blocks.reason_modal(
            CallbackId.OVERRIDE_REASON,
            card,
            "Emergency override",
            "Why can this rollback not wait for approval?",
        )
        await client.views_open(trigger_id=body["trigger_id"], view=modal)

    @app.action(ActionId.CANCEL.value)
    async def cancel(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await ack()
        card: CardAction = context["card"]
        modal = blocks.reason_modal(
            CallbackId.CANCEL_REASON, card, "Cancel request", "Why cancel this request?"
        )
        await client.views_open(trigger_id=body["trigger_id"], view=modal)

    @app.action(ActionId.CUSTOMERS_NOTIFIED.value)
    async def customers_notified(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        card: CardAction = context["card"]
        await flows.meet_obligation(
            card.request_id,
            ObligationKind.CUSTOMER_NOTIFICATION,
            actor_from_interaction(body),
            "confirmed with the button on the card",
        )

    @app.action(ActionId.CONFIRM_RECOVERY.value)
    async def confirm_recovery(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        card: CardAction = context["card"]
        await flows.confirm_recovery(card.request_id, actor_from_interaction(body))
