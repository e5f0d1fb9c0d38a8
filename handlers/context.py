"""Reading who and where from a Bolt request body, in one place."""

from __future__ import annotations

from typing import Any

from bot.domain.people import Person


def actor_from_command(body: dict[str, Any]) -> Person:
    return Person(id=str(body["user_id"]), name=str(body.get("user_name", "")))


def idempotency_key(body: dict[str, Any]) -> str:
    """Slack retries carry the same trigger_id; a fresh command gets a fresh one."""
    return f"cmd:{body.get('team_id', '')}:{body['trigger_id']}"
