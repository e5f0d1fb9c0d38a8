"""Roles from the policy file's user lists and from Slack user groups, cached for a short time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.policy import ApprovalPolicy, Role
from bot.ports import AdapterError, Clock
from integrations.slack.policy_roles import PolicyRoleDirectory
from integrations.slack.refusals import slack_error

log = structlog.get_logger("rollbot.roles")

# Membership changes take effect within this long; short enough for an on-call handover.
GROUP_TTL = timedelta(seconds=60)


class RoleLookupError(AdapterError):
    """Slack would not say who is in a user group; nothing was decided."""


class SlackRoleDirectory:
    """Explicit user ids from the policy, plus Slack user-group members. A group's members are
    read again after GROUP_TTL; while Slack cannot be asked, the last answer is used for at most
    the policy's `roles.max_age`, and past that a role resting on the group is not granted."""

    def __init__(self, policy: ApprovalPolicy, client: AsyncWebClient, clock: Clock) -> None:
        self._explicit = PolicyRoleDirectory(policy)
        self._groups = {role: src.usergroup for role, src in policy.roles.items() if src.usergroup}
        self._max_age = policy.roles_max_age
        self._client = client
        self._clock = clock
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}  # group: (read at, members)

    async def _members(self, group: str) -> frozenset[str] | StaleGroup:
        now = self._clock.now()
        cached = self._cache.get(group)
        if cached is not None and now - cached[0] < GROUP_TTL:
            return cached[1]
        try:
            resp = await self._client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            error = slack_error(exc)
            if cached is None:  # deny by default: without the group nobody can tell who may act
                raise RoleLookupError(
                    f"could not read Slack user group {group} ({error}); try again"
                ) from None
            log.warning("usergroup_refresh_failed", group=group, error=error)
            if now - cached[0] <= self._max_age:
                # Slack struggles (often during the very incident): a recent answer will do
                return cached[1]
            return StaleGroup(group, cached[0], cached[1], error)
        members = frozenset(str(u) for u in resp["users"])
        self._cache[group] = (now, members)
        return members

    async def roles_of(self, user_id: str) -> frozenset[Role]:
        explicit = await self._explicit.roles_of(user_id)
        roles = set(explicit)
        for role, group in self._groups.items():
            members = await self._members(group)
            if isinstance(members, StaleGroup):
                if user_id in members.members and not explicit:
                    raise RoleLookupError(members.refusal(self._clock.now()))
                continue  # never granted from an answer that old
            if user_id in members:
                roles.add(role)
        return frozenset(roles)


@dataclass(frozen=True)
class StaleGroup:
    """A user group Slack has not answered for longer than the policy allows to trust."""

    group: str
    read_at: datetime
    members: frozenset[str]
    error: str

    def refusal(self, now: datetime) -> str:
        minutes = int((now - self.read_at).total_seconds() // 60)
        return (
            f"your role comes from Slack user group {self.group}, which Slack has not answered "
            f"for {minutes} min ({self.error}); past the policy's roles.max_age rollbot does not "
            "act on it. Try again when Slack answers, or ask someone whose role the policy "
            "gives by user id"
        )
