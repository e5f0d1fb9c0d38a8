"""A service whose policy turns the automatic rollback on decision timeout off."""

from __future__ import annotations

import pytest

from bot.app import Runtime
from bot.domain.policy import ApprovalPolicy, ServicePolicy
from bot.domain.request import RequestState
from sandbox.driver import SlackDriver
from sandbox.slack import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import card, command


@pytest.fixture
def policy(policy: ApprovalPolicy) -> ApprovalPolicy:
    return policy.model_copy(
        update={"services": {"api": ServicePolicy(auto_rollback_on_timeout=False)}}
    )


async def test_policy_can_turn_the_timeout_off(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P1 --reason "down"'
    )
    clock.advance(hours=3)
    assert await runtime.due.tick() == 0
    [request] = await runtime.service.list_open(channel)
    assert request.state is RequestState.AWAITING_DECISION
    assert request.decision_deadline is None
    assert "Automatic rollback on timeout is off for this service." in str(
        card(slack, channel)["blocks"]
    )
