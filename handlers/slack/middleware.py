"""Parses what buttons and modals carry into typed models before any listener runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from handlers.slack.ids import ActionId, CallbackId, CardAction, FormOrigin

_CARD_ACTIONS = {a.value for a in ActionId}
_CARD_VIEWS = {
    CallbackId.DENY_REASON.value,
    CallbackId.OVERRIDE_REASON.value,
    CallbackId.CANCEL_REASON.value,
}


async def parse_payloads(
    body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
) -> None:
    kind = body.get("type")
    if kind == "block_actions":
        action = (body.get("actions") or [{}])[0]
        if action.get("action_id") in _CARD_ACTIONS:
            context["card"] = CardAction.decode(str(action.get("value", "")))
    elif kind == "view_submission":
        view = body.get("view") or {}
        callback = view.get("callback_id")
        if callback in _CARD_VIEWS:
            context["card"] = CardAction.decode(str(view.get("private_metadata", "")))
        elif callback == CallbackId.OPEN_FORM:
            context["origin"] = FormOrigin.decode(str(view.get("private_metadata", "")))
    await next()


def register(app: AsyncApp) -> None:
    app.middleware(parse_payloads)
