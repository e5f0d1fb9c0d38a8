"""Reading who and where from a Bolt request body, in one place."""

from __future__ import annotations

from typing import Any

from bot.domain.people import Person
from bot.usecases.commands import Origin
from handlers.slack.ids import FormOrigin


def actor_from_command(body: dict[str, Any]) -> Person:
    return Person(id=str(body["user_id"]), name=str(body.get("user_name", "")))


def origin_of_command(body: dict[str, Any]) -> Origin:
    return Origin(
        channel_id=str(body["channel_id"]), channel_name=str(body.get("channel_name", ""))
    )


def origin_of_form(origin: FormOrigin) -> Origin:
    return Origin(channel_id=origin.channel_id, channel_name=origin.channel_name)


def actor_from_interaction(body: dict[str, Any]) -> Person:
    user = body.get("user") or {}
    return Person(id=str(user["id"]), name=str(user.get("username") or user.get("name") or ""))


def actor_of(body: dict[str, Any]) -> Person:
    """Whoever sent a command (its user_id) or an interaction (its user)."""
    return actor_from_command(body) if "command" in body else actor_from_interaction(body)


def idempotency_key(body: dict[str, Any]) -> str:
    """Slack retries carry the same trigger_id; a fresh command gets a fresh one."""
    return f"cmd:{body.get('team_id', '')}:{body['trigger_id']}"
