"""Declaring an incident pages who its severity names (the rollback and incident response standard "Alert")."""

from __future__ import annotations

import pytest

from bot.domain.policy import ApprovalPolicy, PagingPolicy
from rollbot.bootstrap.runtime import Runtime
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import command


@pytest.fixture
def policy(policy: ApprovalPolicy, slack: SandboxSlack) -> ApprovalPolicy:
    incidents = slack.state.add_channel("incidents", bot_member=True)  # rollbot was invited
    return policy.model_copy(update={"paging": PagingPolicy(incidents_channel=incidents)})


def _pages(slack: SandboxSlack, channel: str) -> list[str]:
    return [
        str(m["blocks"][0]["text"]["text"])
        for m in slack.state.history(channel)
        if not m["text"].startswith("Rollback")
    ]


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("P1", ":rotating_light: P1 declared"),
        ("P2", ":rotating_light: P2 declared"),
        ("P4", ":memo: P4"),
    ],
)
async def test_severity_pages_its_role(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    severity: str,
    expected: str,
) -> None:
    await command(
        runtime,
        driver,
        channel,
        "U0ALICE",
        f'deployment/api -n prod --severity {severity} --reason "x"',
    )
    [page] = _pages(slack, channel)
    assert page.startswith(expected)
    if severity == "P1":
        assert page.endswith("paging VP Engineering <@U0ERIN>")
    if severity == "P2":
        assert page.endswith("paging Engineering Lead <@U0BOB>")


async def test_p3_goes_to_the_incidents_channel(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P3 --reason "slow"'
    )
    assert _pages(slack, channel) == []
    incidents = slack.state.channel_by_name("incidents")
    assert incidents is not None
    [note] = _pages(slack, incidents.id)
    assert note.startswith(":information_source: P3 RB-")
