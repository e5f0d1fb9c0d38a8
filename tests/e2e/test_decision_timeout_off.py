"""A service whose policy turns the automatic rollback on decision timeout off."""

from __future__ import annotations

import pytest

from bot.domain.events import ObligationKind
from bot.domain.policy import ApprovalPolicy, ServicePolicy
from bot.domain.request import RequestState
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import card, click, command


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
    assert await runtime.due.timeouts.tick() == 0
    [request] = await runtime.queries.list_open(channel)
    assert request.state is RequestState.AWAITING_DECISION
    assert request.decision_deadline is None
    assert "Automatic rollback on timeout is off for this service." in str(
        card(slack, channel)["blocks"]
    )


async def test_without_a_timeout_the_decision_sla_is_chased_until_someone_decides(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P2 --reason "slow"'
    )
    [request] = await runtime.queries.list_open(channel)
    await command(runtime, driver, channel, "U0DAVE", f"customers-notified {request.id} email")
    clock.advance(hours=3, minutes=59)
    assert await runtime.reminders.tick() == 0
    clock.advance(minutes=1)
    assert await runtime.reminders.tick() == 1  # the P2 SLA: 4 h
    assert await runtime.reminders.tick() == 0
    await runtime.settle()
    [reminder] = [m for m in slack.state.history(channel) if m["text"].startswith("Overdue")]
    assert f"decision sla for *{request.id}*" in str(reminder["blocks"])
    assert f"Roll back or Forward fix on the card of {request.id}" in str(reminder["blocks"])
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_FORWARD_FIX)
    clock.advance(hours=2)
    assert await runtime.reminders.tick() == 0  # decided: the chase stopped
    [request] = await runtime.queries.history(target_from("deployment/api", "prod"))
    met = request.obligation(ObligationKind.DECISION_SLA)
    assert met is not None
    assert met.evidence == "decided: forward_fix"
