"""Roles from the policy file's user lists and from Slack user groups, cached for a short time."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.policy import ApprovalPolicy, Role
from bot.ports import AdapterError, Clock
from integrations.slack.policy_roles import PolicyRoleDirectory

log = structlog.get_logger("rollbot.roles")

# Membership changes take effect within this long; short enough for an on-call handover.
GROUP_TTL = timedelta(seconds=60)


class RoleLookupError(AdapterError):
    """Slack would not say who is in a user group; nothing was decided."""


class SlackRoleDirectory:
    def __init__(self, policy: ApprovalPolicy, client: AsyncWebClient, clock: Clock) -> None:
        self._explicit = PolicyRoleDirectory(policy)
        self._groups = {role: src.usergroup for role, src in policy.roles.items() if src.usergroup}
        self._client = client
        self._clock = clock
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}

    async def _members(self, group: str) -> frozenset[str]:
        now = self._clock.now()
        cached = self._cache.get(group)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            resp = await self._client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            if cached is not None:
                # Slack is struggling (often during the very incident); the last membership we
                # read is better than refusing everyone.
                log.warning(
                    "usergroup_refresh_failed", group=group, error=exc.response.get("error")
                )
                return cached[1]
            # Deny by default: without the group we cannot tell who may approve.
            raise RoleLookupError(
                f"could not read Slack user group {group} ({exc.response.get('error')}); try again"
            ) from None
        members = frozenset(str(u) for u in resp["users"])
        self._cache[group] = (now + GROUP_TTL, members)
        return members

    async def roles_of(self, user_id: str) -> frozenset[Role]:
        roles = set(await self._explicit.roles_of(user_id))
        for role, group in self._groups.items():
            if user_id in await self._members(group):
                roles.add(role)
        return frozenset(roles)
