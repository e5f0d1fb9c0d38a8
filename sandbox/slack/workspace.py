"""A small Slack-like workspace in the browser, served by the sandbox Slack (`rollbot try`).

The page shows what the sandbox workspace holds (channels, threads, the Block Kit the bot
posted, private replies only to their person, modals the bot opened) and acts as the person
picked: `/rollback …` typed in the message box, a button clicked and a modal submitted go to the
bot as the same signed requests Slack sends (sandbox/slack/driver.py). Nothing here decides what
the bot does; it only shows and sends.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.slack.driver import BotReply, SlackDriver
from sandbox.slack.state import SlackState
from sandbox.slack.workspace_page import PAGE

# What the side panel shows beside the workspace (the sandbox cluster, the audit head), as the
# composition root provides it: the fake Slack knows no other fake.
Panel = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class Workspace:
    bot_url: str
    signing_secret: str
    people: dict[str, str]  # user id -> what the picker calls them ("alice, on call")
    panel: Panel | None = None
    # the person each modal was opened for: views carry no user, their trigger did
    view_owner: dict[str, str] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)


WORKSPACE = web.AppKey("workspace", Workspace)
STATE = web.AppKey("workspace_state", SlackState)


def _private_reply(state: SlackState, channel: str, user: str, reply: BotReply) -> None:
    """The answer to the request itself is shown only to its person, as Slack shows it."""
    if not reply.text:
        return
    try:
        body = reply.json()
    except ValueError:
        body = {"text": reply.text}
    if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
        return
    state.ephemerals.append(
        {
            "channel": channel,
            "user": user,
            "text": body.get("text", ""),
            "blocks": body.get("blocks") or [],
            "ts": state.next_ts(),
        }
    )


def _message(state: SlackState, channel: str, ts: str) -> dict[str, Any]:
    found = [m for m in state.find_channel(channel).messages if m["ts"] == ts]
    found += [e for e in state.ephemerals if e.get("ts") == ts]
    if not found:
        raise web.HTTPNotFound(text=f"no message {ts} in {channel}")
    return found[0]


def _view_of(ws: Workspace, state: SlackState, user: str) -> dict[str, Any] | None:
    mine = [
        v
        for vid, v in state.views.items()
        if ws.view_owner.get(vid) == user and vid not in ws.closed
    ]
    return mine[-1] if mine else None


async def _send(
    request: web.Request, user: str, act: Callable[[SlackDriver], Awaitable[BotReply]]
) -> BotReply:
    ws, state = request.app[WORKSPACE], request.app[STATE]
    before = set(state.views)
    async with SlackDriver(ws.bot_url, ws.signing_secret, state) as driver:
        reply = await act(driver)
    for opened in set(state.views) - before:
        ws.view_owner[opened] = user
    return reply


async def page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def snapshot(request: web.Request) -> web.Response:
    ws, state = request.app[WORKSPACE], request.app[STATE]
    user = request.query.get("user") or next(iter(ws.people))
    # what a person may browse: the public channels, and the private ones they are in
    shown = [c for c in state.channels.values() if not c.is_private or user in c.members]
    channel = request.query.get("channel") or (shown[0].id if shown else "")
    if channel in state.channels and not state.channels[channel].is_private:
        state.channels[channel].members.add(user)  # opening a public channel joins it
    messages = []
    if channel in state.channels:
        messages = [
            {**m, "replies": state.replies(channel, m["ts"])} for m in state.history(channel)
        ]
    body = {
        "people": [{"id": k, "label": v} for k, v in ws.people.items()],
        "names": {k: u["name"] for k, u in state.users.items()},
        "channels": [{"id": c.id, "name": c.name} for c in shown],
        "channel": channel,
        "messages": messages,
        "private": [e for e in state.ephemerals if e["user"] == user and e["channel"] == channel],
        "view": _view_of(ws, state, user),
        "panel": await ws.panel() if ws.panel else {},
    }
    return web.json_response(body, dumps=lambda o: json.dumps(o, default=str))


async def command(request: web.Request) -> web.Response:
    body = await request.json()
    user, channel, text = body["user"], body["channel"], body["text"].strip()
    if not text.startswith("/rollback"):
        return web.json_response({"error": "only /rollback commands go to the bot here"})
    words = text.removeprefix("/rollback").strip()
    reply = await _send(request, user, lambda d: d.command(user, channel, words))
    _private_reply(request.app[STATE], channel, user, reply)
    return web.json_response({"status": reply.status})


async def click(request: web.Request) -> web.Response:
    body = await request.json()
    user, channel = body["user"], body["channel"]
    message = _message(request.app[STATE], channel, body["ts"])
    reply = await _send(request, user, lambda d: d.click(user, channel, message, body["action_id"]))
    _private_reply(request.app[STATE], channel, user, reply)
    return web.json_response({"status": reply.status})


async def submit(request: web.Request) -> web.Response:
    body = await request.json()
    ws, user, view_id = request.app[WORKSPACE], body["user"], body["view_id"]
    reply = await _send(request, user, lambda d: d.submit_view(user, view_id, body["values"]))
    answer = reply.json() if reply.text.startswith("{") else {}
    if answer.get("response_action") == "errors":
        return web.json_response({"errors": answer.get("errors", {})})
    ws.closed.add(view_id)
    return web.json_response({"status": reply.status})


async def close(request: web.Request) -> web.Response:
    request.app[WORKSPACE].closed.add((await request.json())["view_id"])
    return web.json_response({"ok": True})


def add_workspace(app: web.Application, state: SlackState, workspace: Workspace) -> None:
    app[WORKSPACE] = workspace
    app[STATE] = state
    app.router.add_get("/", page)
    app.router.add_get("/try/state", snapshot)
    app.router.add_post("/try/command", command)
    app.router.add_post("/try/click", click)
    app.router.add_post("/try/submit", submit)
    app.router.add_post("/try/close", close)
