"""Drill 3: Slack answers 429 and 5xx for a minute in the middle of a rollback. Every timeline
entry arrives afterwards, in the order it happened, and none twice."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.ports import SystemClock
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import card, click, command, thread
from tests.e2e.workflow import summary as summary_of
from tests.helpers import audit_actions

pytestmark = [
    pytest.mark.drill,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

OUTAGE_SECONDS = 60.0


@pytest.fixture
def clock() -> SystemClock:
    """Real time: the delivery loop waits out Retry-After by the clock."""
    return SystemClock()


async def test_a_minute_of_slack_outage_loses_and_reorders_nothing(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --to-revision 1 --reason "5xx"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    before = len(thread(slack, channel))
    slack.state.outage(OUTAGE_SECONDS)
    runtime.delivery.start()  # the real delivery loop, as `rollbot serve` runs it
    started = time.monotonic()
    shown = card(slack, channel)
    reply = await driver.click("U0BOB", channel, shown, ActionId.APPROVE)
    assert reply.status == 200  # the click is answered while Slack is down
    await runtime.workers.slack.drain()
    await runtime.executions.drain()
    assert len(thread(slack, channel)) == before  # nothing got through yet
    while time.monotonic() - started < OUTAGE_SECONDS + 30:
        if any("Evidence pack stored" in line for line in thread(slack, channel)):
            break
        await asyncio.sleep(0.5)
    await runtime.delivery.drain()
    lines = [line.split(" · ", 1)[1] for line in thread(slack, channel)]
    assert slack.state.outage_calls >= 3  # delivery kept trying through the outage
    expected = [
        "<@U0BOB> approved as engineering_lead",
        "rollbot started the rollback",
        "rolling `deployment/api -n prod` back from revision 3 to 1",
        "rollout complete: api:1.2.2 serving",
        "rollbot rolled back to revision 1",
        "rollbot recovery verified: health checks green, error rate back to baseline",
    ]
    after = lines[before:]
    assert after[: len(expected)] == expected  # all of them, in order, once
    assert after[-1].startswith(":package: Evidence pack stored")
    assert len(after) == len(expected) + 1
    assert (await audit_actions(runtime))[-1] == "evidence.packed"
    summary = summary_of(slack, channel)
    assert "completed" in summary["text"]
