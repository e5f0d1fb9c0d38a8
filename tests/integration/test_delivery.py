"""Outbox delivery against the sandbox Slack: 429 Retry-After, 5xx, order kept per channel."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.notices import CardUpdate, TimelineEntry
from handlers.blockkit.notices import render as render_notice
from integrations.slack.delivery import SlackDelivery, client_for
from integrations.slack.pacing import ChannelPace
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor, ScriptedTarget
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import card as card_of
from tests.helpers import stored

# Opening a request puts four notices in the outbox: the card, the page, and two timeline
# replies (request opened, decision prompted).
PER_REQUEST = 4


@pytest.fixture(autouse=True)
def _targets_exist(executor: ScriptedExecutor) -> None:
    executor.targets["deployment/worker -n prod"] = ScriptedTarget(revisions=["1", "2"], live="2")


async def _open(runtime: Runtime, driver: SlackDriver, channel: str, names: list[str]) -> None:
    """Open a request per name; the worker opens them, and delivery is left to the test."""
    for name in names:
        text = f'deployment/{name} -n prod --reason "broken {name}"'
        reply = await driver.command("U0ALICE", channel, text)
        assert reply.status == 200
        assert await runtime.workers.slack.drain() == 1
        assert "opened" in driver.slack.ephemeral_for("U0ALICE")[-1]["text"]


def _targets(slack: SandboxSlack, channel: str) -> list[str]:
    cards = [m for m in slack.state.history(channel) if m["text"].startswith("Rollback RB-")]
    return [m["text"].split(": ")[1].split(" ")[0] for m in cards]


async def test_429_holds_the_channel_until_retry_after_then_delivers_in_order(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    await _open(runtime, driver, channel, ["api", "web", "worker"])
    slack.state.fail_next("chat.postMessage", status=429, retry_after=7)

    assert await runtime.delivery.drain() == 0
    assert slack.state.history(channel) == []

    clock.advance(seconds=6)
    assert await runtime.delivery.drain() == 0

    clock.advance(seconds=2)
    assert await runtime.delivery.drain() == 3 * PER_REQUEST
    assert _targets(slack, channel) == ["deployment/api", "deployment/web", "deployment/worker"]
    for card in (m for m in slack.state.history(channel) if m["text"].startswith("Rollback RB-")):
        replies = [m["text"] for m in slack.state.replies(channel, card["ts"])]
        assert len(replies) == 2
        assert "opened the request" in replies[0]
        assert "recommended" in replies[1]
    assert (await stored(runtime)).outbox == 3 * PER_REQUEST
    metrics = runtime.metrics.render().decode()
    assert 'rollbot_outbox_retries_total{reason="ratelimited"} 1.0' in metrics


async def test_server_errors_back_off_and_lose_nothing(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    await _open(runtime, driver, channel, ["api", "web"])
    slack.state.fail_next("chat.postMessage", status=503, times=3)

    for _ in range(3):
        assert await runtime.delivery.drain() == 0
        clock.advance(minutes=5)
    assert await runtime.delivery.drain() == 2 * PER_REQUEST
    assert _targets(slack, channel) == ["deployment/api", "deployment/web"]


async def test_one_channel_held_back_does_not_block_another(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    other = slack.state.add_channel("inc-20261127-web", ("U0ALICE",))
    await _open(runtime, driver, channel, ["api"])
    await _open(runtime, driver, other, ["web"])
    slack.state.fail_next("chat.postMessage", status=429, retry_after=30, channel=channel)

    assert await runtime.delivery.drain() == PER_REQUEST
    assert slack.state.history(channel) == []
    assert _targets(slack, other) == ["deployment/web"]


async def test_background_loop_delivers_when_woken(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    runtime.delivery.start()
    await _open(runtime, driver, channel, ["api"])
    for _ in range(200):  # the loop is woken by the write; wait for its round, bounded
        if slack.state.history(channel):
            break
        await asyncio.sleep(0.01)
    assert _targets(slack, channel) == ["deployment/api"]


def _delivery_with(
    runtime: Runtime, slack: SandboxSlack, clock: FakeClock, pace: ChannelPace
) -> SlackDelivery:
    """Delivery from the runtime's outbox, paced as the test says."""
    client = client_for(slack.state.token, slack.api_url)
    return SlackDelivery(runtime.outbox, client, runtime.metrics, clock, render_notice, pace=pace)


async def test_a_burst_of_progress_is_one_growing_reply_paced_per_channel(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    """Twelve rollout steps and three card redraws at once: one thread reply updated in place,
    one redraw, and no more than the channel's burst before the pace makes delivery wait."""
    await _open(runtime, driver, channel, ["api"])
    await runtime.delivery.drain()
    [request] = await runtime.queries.list_open(channel)
    async with runtime.uow() as uow:
        for step in range(12):
            line = TimelineEntry(action="progress", details={"line": f"step {step}"})
            await uow.outbox.notify(request, line, request.created_at)
            if step % 4 == 0:
                await uow.outbox.notify(request, CardUpdate(), request.created_at)
    waits: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:  # the pace's wait, on a clock of the test's own
        waits.append(seconds)
        now[0] += seconds

    paced = _delivery_with(
        runtime, slack, clock, ChannelPace(1.0, 2, now=lambda: now[0], sleep=sleep)
    )
    posts = len(slack.state.calls_of("chat.postMessage"))
    updates = len(slack.state.calls_of("chat.update"))
    assert await paced.drain() == 15
    replies = slack.state.replies(channel, card_of(slack, channel)["ts"])
    progress = [m for m in replies if "step 0" in m["text"]]
    assert len(progress) == 1  # one reply ...
    assert progress[0]["text"].count("\n") == 11  # ... holding all twelve steps, in order
    assert [line.split(" · ")[1] for line in progress[0]["text"].split("\n")] == [
        f"step {i}" for i in range(12)
    ]
    assert len(slack.state.calls_of("chat.postMessage")) - posts == 1
    # three redraws became one (the newest state), and the reply grew once in place
    assert len(slack.state.calls_of("chat.update")) - updates == 2
    assert waits  # past the burst of two, delivery waited for the channel's pace
    assert all(w <= 1.0 for w in waits)


async def test_paced_delivery_stays_under_slacks_posting_limit(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    """The sandbox answers 429 past three messages a second into one channel. Unpaced, rollbot
    runs into it; paced at two a second with a burst of two, it never does."""
    slack.state.post_burst = 3
    await _open(runtime, driver, channel, ["api", "web"])  # eight messages into one channel
    unpaced = await runtime.delivery.drain()
    assert slack.state.rate_limited >= 1
    assert unpaced < 2 * PER_REQUEST
    before = slack.state.rate_limited
    clock.advance(seconds=2)  # past Retry-After
    paced = _delivery_with(runtime, slack, clock, ChannelPace(2.0, burst=2))
    await asyncio.sleep(1.1)  # the sandbox's window of one second passes
    assert await paced.drain() == 2 * PER_REQUEST - unpaced
    assert slack.state.rate_limited == before
    assert _targets(slack, channel) == ["deployment/api", "deployment/web"]
