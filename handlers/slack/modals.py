"""Modal submissions. A refusal is shown on the form's field, where the person is looking."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.domain.acts import ActRefusedError
from bot.domain.errors import DomainError, OverrideRefusedError
from bot.domain.policy import Act
from bot.ports import AdapterError, UnknownTargetError
from bot.store.requests import TargetBusyError
from handlers.blockkit.forms import FormError, read_open_form
from handlers.slack.context import actor_from_interaction, origin_of_form
from handlers.slack.deps import HandlerDeps
from handlers.slack.ids import BlockId, CallbackId, CardAction, FormOrigin


def _reason(view: dict[str, Any]) -> str:
    return str(view["state"]["values"][BlockId.REASON.value]["value"].get("value") or "")


def _field_for(error: DomainError | AdapterError) -> BlockId:
    if isinstance(error, FormError):
        return error.block
    if isinstance(error, UnknownTargetError | TargetBusyError):
        return BlockId.TARGET_NAME
    if isinstance(error, OverrideRefusedError):
        return BlockId.OVERRIDE
    if isinstance(error, ActRefusedError) and error.act is Act.DECLARE_OVERRIDE:
        return BlockId.OVERRIDE  # who may declare one: answered on the override itself
    return BlockId.REASON


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    @app.view(CallbackId.OPEN_FORM.value)
    async def open_form(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, view: dict[str, Any]
    ) -> None:
        origin: FormOrigin = context["origin"]
        try:
            command = read_open_form(view["state"]["values"])
            result = await deps.opening.open_request(
                command,
                actor=actor_from_interaction(body),
                origin=origin_of_form(origin),
                idempotency_key=f"view:{view['id']}",
            )
        except (DomainError, AdapterError) as exc:
            await ack(response_action="errors", errors={_field_for(exc).value: str(exc)[:3000]})
            return
        if result.created:
            deps.metrics.requests_opened.inc()
        await ack()

    async def _card_reason(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, view: dict[str, Any]
    ) -> None:
        card: CardAction = context["card"]
        actor = actor_from_interaction(body)
        callback = view["callback_id"]
        try:
            if callback == CallbackId.DENY_REASON:
                await deps.approvals.deny(card.request_id, card.version, actor, _reason(view))
            elif callback == CallbackId.OVERRIDE_REASON:
                await deps.approvals.declare_override(
                    card.request_id, card.version, actor, _reason(view)
                )
            else:
                await deps.approvals.cancel(card.request_id, card.version, actor, _reason(view))
        except (DomainError, AdapterError) as exc:
            await ack(response_action="errors", errors={BlockId.REASON.value: str(exc)[:3000]})
            return
        await ack()

    for callback in (CallbackId.DENY_REASON, CallbackId.OVERRIDE_REASON, CallbackId.CANCEL_REASON):
        app.view(callback.value)(_card_reason)
