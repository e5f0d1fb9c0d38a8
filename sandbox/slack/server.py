"""A stateful fake of the Slack Web API over real HTTP.

It answers in Slack's shapes (`{"ok": false, "error": ...}` with HTTP 200; 429 with Retry-After),
checks the bot token, keeps channels, threads, ephemeral messages, views and uploaded files, and
exposes all of it to tests. Run standalone with `rollbot sandbox slack --port N`.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from sandbox.slack.blockkit import block_problems
from sandbox.slack.methods import METHODS
from sandbox.slack.scopes import APP_TOKEN_SCOPES, needed
from sandbox.slack.state import Fault, SlackApiError, SlackState
from sandbox.slack.workspace import Workspace, add_workspace

STATE = web.AppKey("state", SlackState)


def _take_fault(state: SlackState, method: str, args: dict[str, Any]) -> Fault | None:
    if time.monotonic() < state.outage_until:
        # a Slack outage: rate limits and server errors, alternating, for every method
        state.outage_calls += 1
        status = 429 if state.outage_calls % 2 else 503
        return Fault(method, status, None, 1, 1)
    channel = args.get("channel")
    if isinstance(channel, str) and time.monotonic() < state.channel_outages.get(channel, 0.0):
        state.outage_calls += 1
        return Fault(method, 429, None, 1, 1, channel)
    posting = method == "chat.postMessage" and isinstance(channel, str)
    if posting and state.over_posting_limit(str(channel)):
        state.rate_limited += 1
        return Fault(method, 429, None, 1, 1, str(channel))
    for fault in state.faults:
        if fault.method in (method, "*") and fault.channel in (None, channel):
            fault.times -= 1
            if fault.times <= 0:
                state.faults.remove(fault)
            return fault
    if posting:
        state.count_post(str(channel))
    return None


async def _read_args(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    raw = await request.read()
    ctype = request.content_type
    if not raw:
        pass  # arguments in the query string only (slack_sdk sends some calls that way)
    elif ctype == "application/json":
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise SlackApiError("invalid_json")
        args.update(body)
    elif ctype in ("application/x-www-form-urlencoded", ""):
        args.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
    elif ctype.startswith("multipart/"):
        raise SlackApiError("invalid_form_data")
    for key in ("blocks", "view", "files", "attachments"):
        if isinstance(args.get(key), str) and args[key]:
            try:
                args[key] = json.loads(args[key])
            except json.JSONDecodeError:
                raise SlackApiError(f"invalid_{key}") from None
    return args


def _token(request: web.Request, args: dict[str, Any]) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[len("Bearer ") :]
    token = args.pop("token", None)
    return str(token) if token else None


async def _api(request: web.Request) -> web.Response:
    state = request.app[STATE]
    method = request.match_info["method"]
    handler = METHODS.get(method)
    if handler is None:
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
    try:
        args = await _read_args(request)
    except SlackApiError as exc:
        return web.json_response({"ok": False, "error": exc.error, **exc.extra})
    if state.latency:
        await asyncio.sleep(state.latency)
    fault = _take_fault(state, method, args)
    if fault is not None:
        if fault.status == 429:
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(fault.retry_after)},
            )
        if fault.error is not None:
            return web.json_response({"ok": False, "error": fault.error})
        return web.Response(status=fault.status, text="upstream trouble")
    try:
        token = _token(request, args)
        if token is None:
            raise SlackApiError("not_authed")
        # Socket Mode connections are opened with the app-level token, everything else with the bot's.
        if token != (state.app_token if method == "apps.connections.open" else state.token):
            raise SlackApiError("invalid_auth")
        state.calls.append((method, dict(args)))
        _check_scope(state, method, args)
        result = handler(state, args)
    except SlackApiError as exc:
        return web.json_response({"ok": False, "error": exc.error, **exc.extra})
    return web.json_response({"ok": True, **result})


def _check_scope(state: SlackState, method: str, args: dict[str, Any]) -> None:
    ref = str(args.get("channel") or "")
    channel = state.channels.get(ref)
    scope = needed(method, private_channel=channel is not None and channel.is_private)
    granted = APP_TOKEN_SCOPES if method == "apps.connections.open" else state.scopes
    if scope is not None and scope not in granted:
        raise SlackApiError("missing_scope", needed=scope, provided=",".join(sorted(granted)))


async def _upload(request: web.Request) -> web.Response:
    state = request.app[STATE]
    file_id = request.match_info["file_id"]
    entry = state.files.get(file_id)
    if entry is None:
        return web.Response(status=404, text="unknown upload")
    entry["content"] = await request.read()
    return web.Response(text=f"OK - {len(entry['content'])}")


# Slack's documented limits: a response_url works 5 times within 30 minutes.
RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME = 30 * 60.0


async def _response_url(request: web.Request) -> web.Response:
    """Slack's response_url: ephemeral by default, in channel when response_type says so."""
    state = request.app[STATE]
    token = request.match_info.get("token")
    if token is not None:
        issued = state.response_urls.get(token)
        if issued is None or time.monotonic() - issued[0] > RESPONSE_URL_LIFETIME:
            return web.Response(status=404, text="expired_url")
        if issued[1] >= RESPONSE_URL_USES:
            return web.Response(status=404, text="used_url")
        state.response_urls[token] = (issued[0], issued[1] + 1)
    body = await request.json()
    channel, user = request.match_info["channel"], request.match_info["user"]
    message = {
        "channel": channel,
        "user": user,
        "text": body.get("text", ""),
        "blocks": body.get("blocks", []),
    }
    if body.get("response_type") == "in_channel":
        METHODS["chat.postMessage"](
            state, {"channel": channel, "text": message["text"], "blocks": message["blocks"]}
        )
    else:
        state.ephemerals.append(message)
    return web.json_response({"ok": True})


async def _history(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({"messages": state.history(request.query["channel"])})


def build_slack_app(state: SlackState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app.router.add_route("*", "/api/{method}", _api)
    app.router.add_post("/upload/{file_id}", _upload)
    app.router.add_post("/response/{channel}/{user}/{token}", _response_url)
    app.router.add_get("/_sandbox/history", _history)
    app.router.add_get("/socket-mode", state.socket.handle)
    return app


class SandboxSlack:
    """Start and stop the fake on 127.0.0.1 (port 0 by default: the OS picks a free one)."""

    def __init__(
        self,
        token: str = "xoxb-sandbox-token",
        team_id: str = "T0SANDBOX",
        bot_user: str = "U0ROLLBOT",
    ) -> None:
        self.state = SlackState(token, team_id, bot_user)
        self._runner: web.AppRunner | None = None
        self.port = 0
        # set before start: the browser workspace at / (sandbox/slack/workspace.py)
        self.workspace: Workspace | None = None

    async def start(self, port: int = 0) -> str:
        app = build_slack_app(self.state)
        if self.workspace is not None:
            add_workspace(app, self.state, self.workspace)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.state.base_url = f"http://127.0.0.1:{self.port}"
        return self.api_url

    @property
    def api_url(self) -> str:
        return f"{self.state.base_url}/api/"

    async def stop(self) -> None:
        await self.state.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


__all__ = ["SandboxSlack", "SlackState", "block_problems", "build_slack_app"]
