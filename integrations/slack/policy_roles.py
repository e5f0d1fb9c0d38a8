"""Role resolution from explicit user lists in the policy file."""

from __future__ import annotations

from bot.domain.policy import ApprovalPolicy, Role


class PolicyRoleDirectory:
    """Roles from the `users:` lists of the policy; Slack user groups are layered on by an adapter."""

    def __init__(self, policy: ApprovalPolicy) -> None:
        self._by_user: dict[str, set[Role]] = {}
        for role, source in policy.roles.items():
            for user in source.users:
                self._by_user.setdefault(user, set()).add(role)

    async def roles_of(self, user_id: str) -> frozenset[Role]:
        return frozenset(self._by_user.get(user_id, ()))
