"""Helpers for the workflow tests: act as people on the card the sandbox channel shows."""

from __future__ import annotations

from typing import Any

from rollbot.bootstrap.runtime import Runtime
from sandbox.slack.driver import BotReply, SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.helpers import answered


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
    """The timeline, a line each: the card's thread (a rollout's progress is one reply that
    grows, a line a step), without the post-mortem draft posted there at the end."""
    return [
        line
        for m in slack.state.replies(channel, card(slack, channel)["ts"])
        if not m["text"].startswith("Post-mortem draft — ")
        for line in m["text"].split("\n")
    ]


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
    """Type `/rollback <text>`, let the worker answer; the person's last answer."""
    return await answered(runtime, driver, user, driver.command(user, channel, text))


def form_text(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def form_values(**overrides: dict[str, Any]) -> dict[str, Any]:
    """Form values as Slack sends them: by block id, then action id (the same id here)."""
    values: dict[str, Any] = {
        "target_kind": {
            "value": {"type": "static_select", "selected_option": {"value": "deployment"}}
        },
        "target_name": form_text("api"),
        "namespace": form_text("prod"),
        "to_revision": form_text(""),
        "severity": {"value": {"type": "static_select", "selected_option": None}},
        "signals": {
            "value": {
                "type": "checkboxes",
                "selected_options": [
                    {"value": "feature_broken"},
                    {"value": "critical_to_customers"},
                ],
            }
        },
        "error_rate": form_text("12"),
        "latency_ratio": form_text(""),
        "tree": {
            "value": {
                "type": "checkboxes",
                "selected_options": [
                    {"value": "issue_in_deployment"},
                    {"value": "simple_to_revert"},
                ],
            }
        },
        "restore_minutes": form_text(""),
        "fix_minutes": form_text(""),
        "reason": form_text("checkout errors since 1.3.0"),
        "ticket": form_text("https://tickets.example/INC-7"),
        "override": form_text(""),
    }
    values.update(overrides)
    return {block: {block: state["value"]} for block, state in values.items()}


def summary(slack: SandboxSlack, channel: str) -> dict[str, Any]:
    """The closing summary of the channel's latest request ("RB-…: <state>")."""
    found = [
        m
        for m in slack.state.history(channel)
        if str(m.get("text", "")).startswith("RB-") and ": " in str(m.get("text", ""))
    ]
    assert found, "no summary in the channel"
    return found[-1]
