"""Renders what the sandbox workspace holds as a channel transcript a person can read."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sandbox.slack.state import SlackState


def _block_lines(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return [f"== {block['text']['text']} =="]
    if kind == "section":
        lines = [block["text"]["text"]] if "text" in block else []
        lines += [f["text"].replace("\n", ": ", 1) for f in block.get("fields", [])]
        return lines
    if kind == "context":
        return [" · ".join(e.get("text", "") for e in block.get("elements", []))]
    if kind == "actions":
        return ["[" + "] [".join(e["text"]["text"] for e in block.get("elements", [])) + "]"]
    return []


def render_message(message: dict[str, Any]) -> list[str]:
    body = [line for b in message.get("blocks", []) for line in _block_lines(b)]
    return body or str(message.get("text", "")).splitlines() or [""]


def _stamp(ts: str) -> str:
    return datetime.fromtimestamp(float(ts), UTC).strftime("%H:%M:%S")


def as_shown(state: SlackState, text: str) -> str:
    """Mentions and channel links the way a Slack client shows them: people by name (a user
    id, or a name rollbot wrote, such as <@alertmanager>), channels by name."""

    def person(match: re.Match[str]) -> str:
        return "@" + str(state.users.get(match[1], {}).get("name", match[1]))

    def channel(match: re.Match[str]) -> str:
        found = state.channels.get(match[1])
        return "#" + (found.name if found else match[1])

    text = re.sub(r"<@([A-Za-z0-9._-]+)>", person, text)
    return re.sub(r"<#(C[0-9A-Z]+)(?:\|[^>]*)?>", channel, text)


def channel_transcript(state: SlackState, channel: str) -> str:
    out: list[str] = [f"#{state.channels[channel].name}"]
    for message in state.history(channel):
        out.append(f"[{_stamp(message['ts'])}] rollbot:")
        out.extend(
            f"    {as_shown(state, part)}"
            for line in render_message(message)
            for part in line.splitlines()
        )
        for reply in state.replies(channel, message["ts"]):
            out.append(f"    ↳ {as_shown(state, reply.get('text', ''))}")
    return "\n".join(out)
