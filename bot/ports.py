"""Ports: the small interfaces the core needs from the outside world. Adapters implement them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from bot.domain.policy import Role


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RoleDirectory(Protocol):
    """Which policy roles a Slack user holds (user groups, explicit lists)."""

    async def roles_of(self, user_id: str) -> frozenset[Role]: ...
