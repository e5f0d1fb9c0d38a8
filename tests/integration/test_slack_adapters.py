"""The Slack adapters against the sandbox: roles from user groups, incident channels."""

from __future__ import annotations

import pytest

from bot.domain.policy import ApprovalPolicy, Role, RoleSource
from bot.ports import ChannelError
from integrations.slack.channels import SlackChannelDirectory
from integrations.slack.delivery import client_for
from integrations.slack.roles import RoleLookupError, SlackRoleDirectory
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock

POLICY = ApprovalPolicy(
    roles={
        Role.DEVOPS_LEAD: RoleSource(usergroup="S0DEVOPS", users=("U0BOB",)),
        Role.DBA: RoleSource(usergroup="S0DBA"),
    }
)


async def test_roles_come_from_groups_and_lists_and_are_cached(
    slack: SandboxSlack, clock: FakeClock
) -> None:
    client = client_for(slack.state.token, slack.api_url)
    roles = SlackRoleDirectory(POLICY, client, clock)
    slack.state.add_usergroup("S0DBA", ["U0CAROL"])

    assert await roles.roles_of("U0FRANK") == {Role.DEVOPS_LEAD}
    assert await roles.roles_of("U0BOB") == {Role.DEVOPS_LEAD}
    assert await roles.roles_of("U0CAROL") == {Role.DBA}
    assert len(slack.state.calls_of("usergroups.users.list")) == 2  # one per group, then cached

    slack.state.add_usergroup("S0DBA", ["U0CAROL", "U0BOB"])
    assert await roles.roles_of("U0BOB") == {Role.DEVOPS_LEAD}  # still the cached membership
    clock.advance(seconds=61)
    assert await roles.roles_of("U0BOB") == {Role.DEVOPS_LEAD, Role.DBA}


async def test_a_failed_refresh_keeps_the_last_membership_and_a_first_failure_refuses(
    slack: SandboxSlack, clock: FakeClock
) -> None:
    client = client_for(slack.state.token, slack.api_url)
    slack.state.add_usergroup("S0DBA", ["U0CAROL"])
    roles = SlackRoleDirectory(POLICY, client, clock)
    assert await roles.roles_of("U0CAROL") == {Role.DBA}
    clock.advance(minutes=5)
    slack.state.fail_next("usergroups.users.list", error="ratelimited", times=2)
    assert await roles.roles_of("U0CAROL") == {Role.DBA}

    fresh = SlackRoleDirectory(POLICY, client, clock)
    slack.state.fail_next("usergroups.users.list", error="missing_scope")
    with pytest.raises(
        RoleLookupError, match="could not read Slack user group S0DEVOPS \\(missing_scope\\)"
    ):
        await fresh.roles_of("U0CAROL")


async def test_incident_channel_is_created_once_and_reused(slack: SandboxSlack) -> None:
    channels = SlackChannelDirectory(client_for(slack.state.token, slack.api_url))
    first = await channels.open_incident_channel("inc-20261127-api", invite="U0ALICE")
    again = await channels.open_incident_channel("inc-20261127-api", invite="U0BOB")
    assert first == again
    assert {"U0ALICE", "U0BOB", slack.state.bot_user} <= slack.state.channels[first].members


async def test_channel_errors_are_clear(slack: SandboxSlack) -> None:
    channels = SlackChannelDirectory(client_for(slack.state.token, slack.api_url))
    with pytest.raises(
        ChannelError, match="could not open incident channel #inc-x \\(user_not_found\\)"
    ):
        await channels.open_incident_channel("inc-x", invite="U0NOBODY")
