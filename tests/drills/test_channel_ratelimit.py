"""Drill: Slack answers 429 on one channel for two minutes. Every other channel keeps flowing
meanwhile; afterwards the held channel gets all of its timeline, in order, once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from bot.ports import SystemClock
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor, ScriptedTarget
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import thread
from tests.helpers import eventually

pytestmark = [
    pytest.mark.drill,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

HELD_SECONDS = 120.0
PEOPLE = ("U0ALICE", "U0BOB")


@pytest.fixture
def clock() -> SystemClock:
    """Real time: the delivery loop waits out Retry-After by the clock."""
    return SystemClock()


def _opened(slack: SandboxSlack) -> int:
    """Requests the worker told the requester it opened."""
    return sum("opened for" in e["text"] for e in slack.state.ephemeral_for("U0ALICE"))


def _cards(slack: SandboxSlack, channel: str) -> int:
    return sum(m["text"].startswith("Rollback RB-") for m in slack.state.history(channel))


async def test_a_channel_rate_limited_for_two_minutes_holds_back_only_itself(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, executor: ScriptedExecutor
) -> None:
    for name in ("api", "web", "worker", "cart"):
        executor.targets[f"deployment/{name} -n prod"] = ScriptedTarget(["1", "2"], live="2")
    held = slack.state.add_channel("inc-20261127-api", PEOPLE)
    runtime.delivery.start()  # the real delivery loop and workers, as `rollbot serve` runs them
    runtime.workers.start()
    reply = await driver.command("U0ALICE", held, 'deployment/api -n prod --reason "5xx"')
    assert "Opening a rollback request" in reply.json()["text"]
    await eventually(lambda: _opened(slack) == 1, "the first request never opened")
    slack.state.channel_outage(held, HELD_SECONDS)  # the request is open: its delivery is held
    started = time.monotonic()
    flowing = []
    for name in ("web", "worker", "cart"):
        other = slack.state.add_channel(f"inc-20261127-{name}", PEOPLE)
        text = f'deployment/{name} -n prod --reason "5xx"'
        reply = await driver.command("U0ALICE", other, text)
        assert "Opening a rollback request" in reply.json()["text"]
        for _ in range(200):
            if _cards(slack, other) and len(thread(slack, other)) >= 2:
                break
            await asyncio.sleep(0.05)
        flowing.append(_cards(slack, other))
    assert time.monotonic() - started < HELD_SECONDS  # the others flowed during the hold
    assert flowing == [1, 1, 1]
    while time.monotonic() - started < HELD_SECONDS + 60:
        if _cards(slack, held) and len(thread(slack, held)) >= 2:
            break
        await asyncio.sleep(0.5)
    assert _cards(slack, held) == 1
    lines = thread(slack, held)
    assert "opened the request" in lines[0]
    assert "recommended" in lines[1]
    assert [n for n in Counter(lines).values() if n > 1] == []
    assert slack.state.outage_calls >= 3  # delivery kept trying, paced by Retry-After
