"""A service with no recovery checks: nothing claims the rollback "passed" or "recovered".
The request ends with recovery unverified, and a person is asked to confirm it."""

from __future__ import annotations

import json

import pytest

from bot.domain.policy import ApprovalPolicy
from bot.domain.request import RequestState
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from integrations.health.checks import HttpVerifier
from rollbot.bootstrap.runtime import Runtime
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import card, click, command, thread
from tests.helpers import evidence_files

API = target_from("deployment/api", "prod")


@pytest.fixture
def verifier(policy: ApprovalPolicy) -> HttpVerifier:  # type: ignore[override]
    return HttpVerifier(policy)  # the policy configures no checks for api


async def test_no_checks_means_recovery_unverified_never_passed(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "5xx"')
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)

    [request] = await runtime.queries.history(API)
    assert request.state is RequestState.RECOVERY_UNVERIFIED
    lines = thread(slack, channel)
    assert any("recovery NOT verified" in line for line in lines)
    assert not any("recovery verified" in line for line in lines)
    shown = json.dumps(card(slack, channel)["blocks"])
    assert "recovery NOT verified" in shown
    assert "Recovery is not verified" in shown
    _, files = evidence_files(runtime)
    verification = json.loads(files["manifest.json"])["verification"]
    assert verification["health_check"] == "not configured"
    assert verification["smoke_tests"] == "not configured"
    assert verification["metrics"] == "not configured"
    assert "passed" not in json.dumps(verification)

    clock.advance(minutes=61)  # nobody confirmed within the hour: the channel is asked
    assert await runtime.reminders.tick() >= 1
    await runtime.settle()
    asked = [
        m["text"] for m in slack.state.history(channel) if "recovery confirmation" in m["text"]
    ]
    assert asked

    await click(runtime, driver, slack, channel, "U0BOB", ActionId.CONFIRM_RECOVERY)
    confirmed = await runtime.queries.status(channel, request.id)
    assert confirmed.state is RequestState.COMPLETED
    assert "confirmed by bob" in (confirmed.outcome or "")
