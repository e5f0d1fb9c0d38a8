"""Obligations are chased until met (the rollback runbook: post-mortem within 48 h, retroactive approval
within 4 h; the change management guide). Time is moved, never waited for."""

from __future__ import annotations

import asyncio

from bot.domain.policy import ApprovalPolicy
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor, ScriptedVerifier
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import click, command, ephemerals
from tests.helpers import another_replica

API = target_from("deployment/api", "prod")


def _reminders(slack: SandboxSlack, channel: str) -> list[str]:
    return [
        str(m["blocks"][0]["text"]["text"])
        for m in slack.state.history(channel)
        if m["text"].startswith("Overdue")
    ]


async def _completed_rollback(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> str:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P1 --reason "down"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.CUSTOMERS_NOTIFIED)
    # a P1 stays open until a person confirms recovery
    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.CONFIRM_RECOVERY)
    [request] = await runtime.queries.history(API)
    return request.id


async def test_a_post_mortem_is_chased_once_per_step_until_it_is_met(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    request_id = await _completed_rollback(runtime, driver, slack, channel)
    clock.advance(hours=47, minutes=59)
    assert await runtime.reminders.tick() == 0
    clock.advance(minutes=1)
    assert await runtime.reminders.tick() == 1
    assert await runtime.reminders.tick() == 0  # fired once at its time
    clock.advance(hours=1)
    assert await runtime.reminders.tick() == 1
    clock.advance(hours=1)
    assert await runtime.reminders.tick() == 1
    await runtime.settle()
    first, third = _reminders(slack, channel)
    assert f"post mortem for *{request_id}*" in first
    assert f"`/rollback postmortem {request_id} <link>`" in first
    assert "<@" not in first  # the channel first
    # then a direct message to the incident commander, pointing at the channel
    [second] = _reminders(slack, slack.state.ims["U0DAVE"])
    assert f"post mortem for *{request_id}*" in second
    assert f"<#{channel}>" in second
    assert third.endswith("<@U0BOB>")  # then the engineering lead, in the channel

    reply = await command(
        runtime, driver, channel, "U0BOB", f"postmortem {request_id} https://wiki.example/pm/42"
    )
    assert reply == f"Recorded post mortem for {request_id}."
    clock.advance(hours=5)
    assert await runtime.reminders.tick() == 0  # met: never again
    [request] = await runtime.queries.history(API)
    pm = request.obligation(
        __import__("bot.domain.events", fromlist=["ObligationKind"]).ObligationKind.POST_MORTEM
    )
    assert pm is not None
    assert pm.evidence == "https://wiki.example/pm/42"


async def test_retroactive_approval_is_role_checked(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    text = 'deployment/api -n prod --to-revision 1 --severity P1 --reason "down"'
    await command(runtime, driver, channel, "U0ALICE", text)
    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.OVERRIDE)
    view_id = list(slack.state.views)[-1]
    await driver.submit_view(
        "U0DAVE", view_id, {"reason": {"value": {"type": "plain_text_input", "value": "no lead"}}}
    )
    await runtime.settle()
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CONFIRM_RECOVERY)
    [request] = await runtime.queries.history(API)

    refused = await command(runtime, driver, channel, "U0CAROL", f"approve-retro {request.id}")
    assert "a retroactive approval is for engineering lead, not the requester" in refused
    assert "Retroactive approval recorded" in await command(
        runtime, driver, channel, "U0BOB", f"approve-retro {request.id}"
    )
    told = await command(
        runtime, driver, channel, "U0DAVE", f"customers-notified {request.id} status page + email"
    )
    assert told == f"Recorded customer notification for {request.id}."
    clock.advance(hours=4, minutes=1)
    assert await runtime.reminders.tick() == 0  # met within 4 h: nothing to chase
    clock.advance(hours=20)
    assert await runtime.reminders.tick() == 1  # the written approval (24 h) is still owed
    await runtime.settle()
    assert "emergency written approval" in _reminders(slack, channel)[-1]
    # the refusal reached carol once, through her command's response_url, and nothing else did
    [refusal] = ephemerals(slack, "U0CAROL")
    assert refusal == refused


async def test_two_schedulers_on_one_database_send_each_reminder_once(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
    verifier: ScriptedVerifier,
) -> None:
    await _completed_rollback(runtime, driver, slack, channel)
    other = await another_replica(runtime, clock, policy, executor, verifier)
    try:
        clock.advance(hours=48)
        sent = await asyncio.gather(*(r.reminders.tick() for r in (runtime, other, runtime, other)))
        assert sum(sent) == 1
        await runtime.settle()
        await other.settle()
        assert len(_reminders(slack, channel)) == 1
    finally:
        await other.close()


async def test_customers_must_hear_of_a_p1_within_30_minutes(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P1 --reason "down"'
    )
    [request] = await runtime.queries.history(API)
    clock.advance(minutes=29)
    assert await runtime.reminders.tick() == 0
    clock.advance(minutes=1)
    assert await runtime.reminders.tick() == 1  # in the channel
    clock.advance(minutes=15)
    assert await runtime.reminders.tick() == 1  # a direct message to the incident commander
    clock.advance(minutes=15)
    assert await runtime.reminders.tick() == 2  # the incident commander named in the channel,
    # and the decision SLA (1 h): nobody has decided yet
    await runtime.settle()
    first, *third = _reminders(slack, channel)
    assert "customer notification" in first
    assert "<@" not in first
    [escalated] = [r for r in third if "customer notification" in r]
    assert escalated.endswith("<@U0DAVE>")
    assert [r for r in third if "decision sla" in r]
    [dm] = _reminders(slack, slack.state.ims["U0DAVE"])
    assert f"customer notification for *{request.id}*" in dm
    assert "Customers notified on the card" in dm

    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.CUSTOMERS_NOTIFIED)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.CONFIRM_RECOVERY)
    clock.advance(hours=1)
    assert await runtime.reminders.tick() == 0  # all met: never again
