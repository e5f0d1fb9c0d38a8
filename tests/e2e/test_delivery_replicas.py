"""Three replicas on one PostgreSQL deliver 20 requests and their clicks: each notice posted
exactly once, in order in its channel."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import pytest

from bot.domain.policy import ApprovalPolicy
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor, ScriptedTarget
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import SIGNING_SECRET, FakeClock
from tests.e2e.workflow import card
from tests.helpers import another_replica

SERVICES = [f"svc{i:02d}" for i in range(20)]
STORY = ("opened the request", "recommended", "chose to roll back", "started the rollback")


async def _deliver_everything(replicas: list[Runtime]) -> None:
    """Every replica drains at once, again and again, until nothing waits."""
    for _ in range(50):
        await asyncio.gather(*(r.workers.drain() for r in replicas))
        await asyncio.gather(*(r.executions.drain() for r in replicas))
        await asyncio.gather(*(r.delivery.drain() for r in replicas))
        if await replicas[0].outbox.waiting_count() == 0:
            return
    raise AssertionError("notices were still waiting")


def _threads(slack: SandboxSlack, channel: str) -> dict[str, list[str]]:
    """Each top-level message's thread (the message first), as people see them."""
    messages = slack.state.find_channel(channel).messages
    return {
        m["ts"]: [m["text"], *(r["text"] for r in slack.state.replies(channel, m["ts"]))]
        for m in messages
        if m.get("thread_ts") in (None, m["ts"])
    }


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_three_replicas_post_every_notice_once_and_in_order(
    runtime: Runtime,
    slack: SandboxSlack,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    for name in SERVICES:
        executor.targets[f"deployment/{name} -n prod"] = ScriptedTarget(["1", "2"], live="2")
    general = slack.state.add_channel("general", ("U0ALICE", "U0BOB"))
    replicas = [runtime] + [
        await another_replica(runtime, clock, policy, executor) for _ in range(2)
    ]
    async with contextlib.AsyncExitStack() as stack:
        for extra in replicas[1:]:
            stack.push_async_callback(extra.close)
        drivers = [
            await stack.enter_async_context(
                SlackDriver(await r.serve_http(), SIGNING_SECRET, slack.state)
            )
            for r in replicas
        ]
        replies = await asyncio.gather(
            *(
                drivers[i % 3].command(
                    "U0ALICE", general, f'deployment/{name} -n prod --reason "5xx"'
                )
                for i, name in enumerate(SERVICES)
            )
        )
        assert all("Opening a rollback request" in r.json()["text"] for r in replies)
        await _deliver_everything(replicas)
        opened = [e["text"] for e in slack.state.ephemeral_for("U0ALICE") if "opened" in e["text"]]
        assert len(opened) == len(SERVICES)  # each command processed once, by one replica
        channels = [slack.state.channel_by_name(f"inc-20261127-{name}") for name in SERVICES]
        assert all(c is not None for c in channels)
        ids = [c.id for c in channels if c is not None]
        clicks = await asyncio.gather(
            *(
                drivers[(i + 1) % 3].click(
                    "U0ALICE", channel, card(slack, channel), ActionId.CHOOSE_ROLLBACK
                )
                for i, channel in enumerate(ids)
            )
        )
        assert all(c.status == 200 for c in clicks)
        await _deliver_everything(replicas)

    for channel in ids:
        threads = _threads(slack, channel)
        cards = [ts for ts, texts in threads.items() if texts[0].startswith("Rollback RB-")]
        assert len(cards) == 1, f"{channel}: {len(cards)} cards"
        lines = threads[cards[0]][1:]
        repeated = [text for text, n in Counter(lines).items() if n > 1]
        assert repeated == [], f"{channel}: posted more than once: {repeated}"
        where = [next(i for i, line in enumerate(lines) if part in line) for part in STORY]
        assert where == sorted(where), f"{channel}: out of order: {lines}"
        top_level: list[Any] = [t for t in threads if t not in cards]
        assert top_level == [] or all(
            not threads[t][0].startswith("Rollback RB-") for t in top_level
        )
