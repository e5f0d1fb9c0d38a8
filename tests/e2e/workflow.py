"""Helpers for the workflow tests: act as people on the card the sandbox channel shows."""

from __future__ import annotations

from typing import Any

from bot.app import Runtime
from sandbox.driver import BotReply, SlackDriver
from sandbox.slack import SandboxSlack


def card(slack: SandboxSlack, channel: str) -> dict[str, Any]:
    """The request card as people see it now (cards are the top-level messages by rollbot)."""
    cards = [
        m for m in slack.state.history(channel) if str(m.get("text", "")).startswith("Rollback RB-")
    ]
    assert cards, "no request card in the channel"
    return cards[-1]


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        e["text"]["text"]
        for b in message.get("blocks", [])
        if b.get("type") == "actions"
        for e in b.get("elements", [])
    ]


def thread(slack: SandboxSlack, channel: str) -> list[str]:
    return [m["text"] for m in slack.state.replies(channel, card(slack, channel)["ts"])]


def ephemerals(slack: SandboxSlack, user: str) -> list[str]:
    return [e["text"] for e in slack.state.ephemeral_for(user)]


async def click(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    user: str,
    action: str,
    *,
    message: dict[str, Any] | None = None,
) -> BotReply:
    """Click a button on the current card (or on `message`, an older copy), then let it settle."""
    reply = await driver.click(user, channel, message or card(slack, channel), action)
    assert reply.status == 200
    await runtime.settle()
    return reply


async def command(runtime: Runtime, driver: SlackDriver, channel: str, user: str, text: str) -> str:
    reply = await driver.command(user, channel, text)
    assert reply.status == 200
    await runtime.settle()
    return str(reply.json()["text"]) if reply.text else ""
