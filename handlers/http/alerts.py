"""POST /alerts/alertmanager: a shared bearer token or basic auth, else 401; a body that is not
an Alertmanager webhook, 400; never a 500 for what a sender controls. 200 means stored (it is
processed behind); 503 means it could not be stored, and Alertmanager sends it again."""

from __future__ import annotations

import json

from aiohttp import web
from pydantic import ValidationError

from bot.usecases.alert_inbox import AlertInbox
from bot.usecases.alert_intake import AlertmanagerWebhook
from bot.usecases.inbox import InboxUnavailableError
from handlers.http.auth import authorized


def alert_route(inbox: AlertInbox, *, token: str | None, basic: str | None) -> web.RouteDef:
    async def alertmanager(request: web.Request) -> web.Response:
        if not authorized(request.headers.get("Authorization", ""), token, basic):
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            webhook = AlertmanagerWebhook.model_validate(json.loads(await request.read()))
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
            return web.json_response(
                {"error": f"not an Alertmanager webhook: {type(exc).__name__}"}, status=400
            )
        try:
            accepted = await inbox.accept_webhook(webhook)
        except InboxUnavailableError:
            return web.json_response(
                {"error": "could not store the alert now; send it again"}, status=503
            )
        return web.json_response(
            {"stored": True, "inbox": accepted.item, "already_stored": accepted.item is None}
        )

    return web.post("/alerts/alertmanager", alertmanager)
