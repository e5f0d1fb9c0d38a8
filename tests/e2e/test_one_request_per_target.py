"""One open rollback request per target, across channels and replicas: a second request is
answered with the open one, and nothing of it is stored."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.policy import ApprovalPolicy
from bot.domain.targets import target_from
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor, ScriptedVerifier
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import SIGNING_SECRET, FakeClock
from tests.e2e.workflow import command
from tests.helpers import another_replica, stored

API = target_from("deployment/api", "prod")
PEOPLE = ("U0ALICE", "U0BOB", "U0DAVE")


async def test_a_second_request_for_an_open_target_is_pointed_to_the_first(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "5xx"')
    [first] = await runtime.queries.history(API)
    before = await stored(runtime)
    elsewhere = slack.state.add_channel("inc-checkout-outage", PEOPLE)
    general = slack.state.add_channel("general", PEOPLE)
    channels_before = len(slack.state.channels)

    answers = [
        await command(runtime, driver, where, "U0BOB", 'deployment/api -n prod --reason "slow"')
        for where in (elsewhere, general)
    ]

    for answer in answers:
        assert "already has an open rollback request" in answer
        assert first.id in answer
        assert f"<#{first.channel}>" in answer  # a link to where it is being handled
        assert "Traceback" not in answer
    assert await stored(runtime) == before  # no request, audit entry or notice was added
    assert len(slack.state.channels) == channels_before  # no incident channel was made for it
    assert [r.id for r in await runtime.queries.history(API)] == [first.id]


async def test_once_the_request_ends_the_target_takes_a_new_one(
    runtime: Runtime, driver: SlackDriver, channel: str
) -> None:
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "5xx"')
    [first] = await runtime.queries.history(API)
    await runtime.decisions.choose_forward_fix(first.id, first.version, first.requester)

    answer = await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "again"'
    )

    assert "already has an open" not in answer
    found = await runtime.queries.history(API)
    assert sorted(r.state.value for r in found) == ["awaiting_decision", "forward_fix_chosen"]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_replicas_racing_for_one_target_open_one_request(
    runtime: Runtime,
    slack: SandboxSlack,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
    verifier: ScriptedVerifier,
) -> None:
    first_channel = slack.state.add_channel("inc-20261127-api", PEOPLE)
    second_channel = slack.state.add_channel("inc-checkout-outage", PEOPLE)
    other = await another_replica(runtime, clock, policy, executor, verifier)
    try:
        urls = [await runtime.serve_http(), await other.serve_http()]
        async with (
            SlackDriver(urls[0], SIGNING_SECRET, slack.state) as a,
            SlackDriver(urls[1], SIGNING_SECRET, slack.state) as b,
        ):
            replies = await asyncio.gather(
                a.command("U0ALICE", first_channel, 'deployment/api -n prod --reason "5xx"'),
                b.command("U0BOB", second_channel, 'deployment/api -n prod --reason "5xx"'),
            )
        assert [r.status for r in replies] == [200, 200]
        await asyncio.gather(runtime.settle(), other.settle())  # both replicas' workers
        texts = [e["text"] for e in slack.state.ephemerals]
        assert sum("already has an open rollback request" in t for t in texts) == 1
        assert sum("opened for `deployment/api -n prod`" in t for t in texts) == 1
        assert len(await runtime.queries.history(API)) == 1
    finally:
        await other.close()
