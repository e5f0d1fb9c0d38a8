"""Web API methods of the sandbox Slack: each takes the workspace state and the call's arguments."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

from sandbox.slack.blockkit import block_problems, view_problems
from sandbox.slack.state import Channel, SlackApiError, SlackState

# Slack truncates a message's text past 40,000 characters; past far more it answers msg_too_long.
MAX_TEXT = 40_000
# Slack's documented trigger_id lifetime.
TRIGGER_LIFETIME = 3.0
_CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")


Method = Callable[[SlackState, dict[str, Any]], dict[str, Any]]
METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Method], Method]:
    def register(fn: Method) -> Method:
        METHODS[name] = fn
        return fn

    return register


def _required(args: dict[str, Any], name: str) -> Any:
    value = args.get(name)
    if value in (None, ""):
        raise SlackApiError(
            f"no_{name}" if name in ("text", "channel") else "invalid_arguments",
            response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
        )
    return value


def _content(args: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    text = str(args.get("text") or "")
    blocks = args.get("blocks") or []
    if not text and not blocks:
        raise SlackApiError("no_text")
    if len(text) > MAX_TEXT:
        raise SlackApiError("msg_too_long")
    problems = block_problems(blocks)
    if problems:
        raise SlackApiError("invalid_blocks", response_metadata={"messages": problems})
    # Slack gives every block without one a generated block_id, and sends it back on clicks
    blocks = [b if b.get("block_id") else {**b, "block_id": _generated_id(b)} for b in blocks]
    return text, blocks


def _generated_id(block: dict[str, Any]) -> str:
    digest = hashlib.sha1(repr(sorted(block.items())).encode()).hexdigest()
    return "".join(c.upper() if i % 3 == 0 else c for i, c in enumerate(digest[:5]))


@method("auth.test")
def auth_test(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": "https://sandbox.slack.server.example/",
        "team": "sandbox",
        "user": "rollbot",
        "team_id": state.team_id,
        "user_id": state.bot_user,
        "bot_id": "B0ROLLBOT",
    }


def _postable(state: SlackState, ref: str) -> Channel:
    """The channel the bot may post in, or Slack's reason why not."""
    channel = state.find_channel(ref)
    if channel.is_private and state.bot_user not in channel.members:
        raise SlackApiError("channel_not_found")  # a private channel is invisible to outsiders
    if channel.is_archived:
        raise SlackApiError("is_archived")
    if state.bot_user not in channel.members:
        raise SlackApiError("not_in_channel")
    return channel


@method("chat.postMessage")
def post_message(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _postable(state, str(_required(args, "channel")))
    text, blocks = _content(args)
    ts = state.next_ts()
    message: dict[str, Any] = {
        "type": "message",
        "user": state.bot_user,
        "ts": ts,
        "text": text,
        "blocks": blocks,
    }
    _into_thread(channel, message, args.get("thread_ts"), "thread_not_found")
    channel.messages.append(message)
    return {"channel": channel.id, "ts": ts, "message": message}


def _into_thread(channel: Channel, message: dict[str, Any], thread_ts: Any, missing: str) -> None:
    """A reply in the thread of `thread_ts`, when given; Slack's `missing` error without one."""
    if not thread_ts:
        return
    parent = next((m for m in channel.messages if m["ts"] == thread_ts), None)
    if parent is None:
        raise SlackApiError(missing)
    message["thread_ts"] = thread_ts
    parent["thread_ts"] = thread_ts
    parent["reply_count"] = parent.get("reply_count", 0) + 1


@method("chat.getPermalink")
def get_permalink(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = state.find_channel(str(_required(args, "channel")))
    ts = str(_required(args, "message_ts"))
    if not any(m["ts"] == ts for m in channel.messages):
        raise SlackApiError("message_not_found")
    return {
        "channel": channel.id,
        "permalink": f"https://sandbox.slack.server.com/archives/{channel.id}/p{ts.replace('.', '')}",
    }


@method("chat.update")
def update_message(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _postable(state, str(_required(args, "channel")))
    ts = str(_required(args, "ts"))
    message = next((m for m in channel.messages if m["ts"] == ts), None)
    if message is None:
        raise SlackApiError("message_not_found")
    text, blocks = _content(args)
    message.update(text=text, blocks=blocks, edited={"user": state.bot_user, "ts": state.next_ts()})
    return {"channel": channel.id, "ts": ts, "text": text}


@method("chat.postEphemeral")
def post_ephemeral(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = state.find_channel(str(_required(args, "channel")))
    user = str(_required(args, "user"))
    if user not in channel.members:
        raise SlackApiError("user_not_in_channel")
    text, blocks = _content(args)
    ts = state.next_ts()
    state.ephemerals.append(
        {"channel": channel.id, "user": user, "text": text, "blocks": blocks, "ts": ts}
    )
    return {"message_ts": ts}


@method("views.open")
def views_open(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    trigger = str(_required(args, "trigger_id"))
    if trigger in state.used_triggers:
        raise SlackApiError("exchanged_trigger_id")  # a trigger opens one view, once
    issued = state.triggers.pop(trigger, None)
    if issued is None:
        raise SlackApiError("invalid_trigger_id")
    state.used_triggers.add(trigger)
    if time.monotonic() - issued > TRIGGER_LIFETIME:
        raise SlackApiError("expired_trigger_id")
    return {"view": _store_view(state, args, view_id=state.next_id("V"))}


@method("views.update")
def views_update(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    view_id = args.get("view_id") or next(
        (v["id"] for v in state.views.values() if v.get("external_id") == args.get("external_id")),
        None,
    )
    if not view_id or view_id not in state.views:
        raise SlackApiError("not_found")
    return {"view": _store_view(state, args, view_id=str(view_id))}


def _store_view(state: SlackState, args: dict[str, Any], *, view_id: str) -> dict[str, Any]:
    view = args.get("view")
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        raise SlackApiError("invalid_arguments")
    problems = view_problems(view)
    if problems:
        raise SlackApiError("invalid_blocks", response_metadata={"messages": problems})
    stored = {**view, "id": view_id, "team_id": state.team_id, "state": {"values": {}}}
    state.views[view_id] = stored
    return stored


@method("users.info")
def users_info(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    user = state.users.get(str(_required(args, "user")))
    if user is None:
        raise SlackApiError("user_not_found")
    return {
        "user": {**user, "profile": {"real_name": user["real_name"], "display_name": user["name"]}}
    }


@method("usergroups.users.list")
def usergroup_users(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    group = state.usergroups.get(str(_required(args, "usergroup")))
    if group is None:
        raise SlackApiError("no_such_subteam")
    return {"users": list(group)}


def _channel_view(state: SlackState, channel_id: str) -> dict[str, Any]:
    channel = state.channels[channel_id]
    return {
        "id": channel.id,
        "name": channel.name,
        "is_channel": not (channel.is_private or channel.is_im),
        "is_group": channel.is_private,
        "is_im": channel.is_im,
        "is_private": channel.is_private,
        "is_archived": channel.is_archived,
        "is_member": state.bot_user in channel.members,
        "num_members": len(channel.members),
    }


def _visible(state: SlackState, ref: str) -> Channel:
    """A channel the bot can see: every public one, a private one only as a member."""
    channel = state.find_channel(ref)
    if channel.is_private and state.bot_user not in channel.members:
        raise SlackApiError("channel_not_found")
    return channel


@method("conversations.create")
def conversations_create(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    name = str(_required(args, "name"))
    if len(name) > 80:
        raise SlackApiError("invalid_name_maxlength")
    if not _CHANNEL_NAME.match(name):
        raise SlackApiError("invalid_name_specials")
    if state.channel_by_name(name) is not None:
        raise SlackApiError("name_taken")
    private = str(args.get("is_private", "")).lower() in ("1", "true")
    created = state.add_channel(name, bot_member=True, private=private)  # the creator is in it
    return {"channel": _channel_view(state, created)}


@method("conversations.invite")
def conversations_invite(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _visible(state, str(_required(args, "channel")))
    users = [u for u in str(_required(args, "users")).split(",") if u]
    if channel.is_archived:
        raise SlackApiError("is_archived")
    if state.bot_user not in channel.members:
        raise SlackApiError("not_in_channel")
    unknown = [u for u in users if u not in state.users]
    if unknown:
        raise SlackApiError("user_not_found")
    if len(users) == 1 and users[0] in channel.members:
        raise SlackApiError("already_in_channel")
    channel.members.update(users)
    return {"channel": _channel_view(state, channel.id)}


@method("conversations.info")
def conversations_info(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _visible(state, str(_required(args, "channel")))
    return {"channel": _channel_view(state, channel.id)}


@method("conversations.list")
def conversations_list(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    types = set(str(args.get("types") or "public_channel").split(","))
    archived_too = str(args.get("exclude_archived", "")).lower() not in ("1", "true")
    channels = [
        _channel_view(state, c.id)
        for c in state.channels.values()
        if not c.is_im
        and ("private_channel" if c.is_private else "public_channel") in types
        and (not c.is_private or state.bot_user in c.members)
        and (archived_too or not c.is_archived)
    ]
    return {"channels": channels, "response_metadata": {"next_cursor": ""}}


@method("conversations.join")
def conversations_join(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _visible(state, str(_required(args, "channel")))
    if channel.is_archived:
        raise SlackApiError("is_archived")
    if channel.is_private or channel.is_im:
        raise SlackApiError("method_not_supported_for_channel_type")
    warning = {"warning": "already_in_channel"} if state.bot_user in channel.members else {}
    channel.members.add(state.bot_user)
    return {"channel": _channel_view(state, channel.id), **warning}


@method("conversations.history")
def conversations_history(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = state.find_channel(str(_required(args, "channel")))
    if state.bot_user not in channel.members:
        raise SlackApiError("not_in_channel")
    return {"messages": list(reversed(state.history(channel.id))), "has_more": False}


@method("conversations.replies")
def conversations_replies(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    channel = state.find_channel(str(_required(args, "channel")))
    ts = str(_required(args, "ts"))
    parent = [m for m in channel.messages if m["ts"] == ts]
    if not parent:
        raise SlackApiError("thread_not_found")
    return {"messages": parent + state.replies(channel.id, ts), "has_more": False}


@method("files.getUploadURLExternal")
def files_upload_url(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    filename = str(_required(args, "filename"))
    length = int(_required(args, "length"))
    file_id = state.next_id("F")
    state.files[file_id] = {"id": file_id, "name": filename, "length": length, "content": None}
    return {"upload_url": f"{state.base_url}/upload/{file_id}", "file_id": file_id}


@method("files.completeUploadExternal")
def files_complete(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    files = _required(args, "files")
    done = []
    for item in files:
        entry = state.files.get(item.get("id"))
        if entry is None or entry["content"] is None:
            raise SlackApiError("file_not_found")
        entry["title"] = item.get("title", entry["name"])
        done.append({k: v for k, v in entry.items() if k != "content"})
    channel_id = args.get("channel_id")
    if channel_id:
        # shared into a channel the bot must be able to post in, as a message or a thread reply
        channel = _postable(state, str(channel_id))
        message: dict[str, Any] = {
            "type": "message",
            "user": state.bot_user,
            "ts": state.next_ts(),
            "text": str(args.get("initial_comment") or ""),
            "files": done,
        }
        _into_thread(channel, message, args.get("thread_ts"), "invalid_thread_ts")
        channel.messages.append(message)
    return {"files": done}


@method("apps.connections.open")
def connections_open(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
    return {"url": state.base_url.replace("http://", "ws://") + "/socket-mode"}
