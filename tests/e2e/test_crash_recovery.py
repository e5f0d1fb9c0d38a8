"""A process that dies in the middle of a rollback: another one (or the same, restarted) follows
the rollback to its end from the database, posts the outcome, and never rolls back twice.
(`make drills` does the same with `kill -9` on a real `rollbot serve`.)"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.domain.policy import ApprovalPolicy
from bot.domain.request import RequestState
from bot.domain.targets import target_from
from bot.usecases.audit_export import verify_database
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import SIGNING_SECRET, FakeClock
from tests.e2e.workflow import card, command, thread
from tests.helpers import another_replica, audit_actions, eventually

API = target_from("deployment/api", "prod")


async def _die_mid_rollout(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    executor: ScriptedExecutor,
) -> Any:
    """Start a rollback whose rollout is under way, then lose the process: its tasks vanish.
    Returns the scripted target, its rollout still held."""
    target = executor.targets["deployment/api -n prod"]
    target.hold = asyncio.Event()
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "down"')
    await driver.click("U0ALICE", channel, card(slack, channel), ActionId.CHOOSE_ROLLBACK)
    await runtime.workers.slack.drain()  # the click's use case; its rollback runs behind

    async def under_way() -> bool:  # the change is in, the task waits
        [request] = await runtime.queries.history(API)
        return request.state is RequestState.EXECUTING and target.live != request.baseline_revision

    await eventually(under_way, "the rollback never got under way")
    for task in runtime.executions.running():
        task.cancel()
    await asyncio.gather(*runtime.executions.running(), return_exceptions=True)
    await runtime.delivery.drain()
    return target


async def _held_in_front_of_the_change(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, target: Any
) -> asyncio.Event:
    """Start a rollback whose change waits (a slow API server in front of the patch); returns
    what lets it go."""
    target.change_hold = held = asyncio.Event()
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "down"')
    await driver.click("U0ALICE", channel, card(slack, channel), ActionId.CHOOSE_ROLLBACK)
    await runtime.workers.slack.drain()  # the click's use case; its rollback runs behind
    await eventually(lambda: bool(target.changing), "the rollback never reached its change")
    return held


async def test_a_rollback_whose_process_died_is_followed_to_its_end(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    target = await _die_mid_rollout(runtime, driver, slack, channel, executor)
    [request] = await runtime.queries.history(API)
    assert request.state is RequestState.EXECUTING
    assert target.live == "2"  # the change went in before the process died

    other = await another_replica(runtime, clock, policy, executor)
    try:
        assert await other.due.leases.reclaim() == 0  # the lease has not run out yet
        clock.advance(minutes=2)
        assert await other.due.leases.reclaim() == 1
        assert await other.due.leases.reclaim() == 0  # taken once
        await other.settle()
        [request] = await other.queries.history(API)
        assert request.state is RequestState.COMPLETED
        assert request.to_revision == "2"
        assert executor.executions == [request.id]  # resumed, never executed again
        lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
        assert (
            ":arrows_counterclockwise: rollbot restarted while this rollback was executing; "
            "following it to its end (never a second rollback)"
        ) in lines
        assert "`deployment/api -n prod` is at revision 2; rollout complete" in lines
        assert lines[-1].startswith(":package: Evidence pack stored")
        actions = await audit_actions(other)
        assert actions.count("execution.started") == 1
        assert actions[-4:] == [
            "execution.resumed",
            "execution.succeeded",
            "verification.passed",
            "evidence.packed",
        ]
        assert (await verify_database(other.engine, other.uow.signer.public_key)).ok
        assert await other.delivery.drain() == 0  # nothing left undelivered
    finally:
        await other.close()


async def test_a_process_that_died_before_the_change_is_rolled_back_by_the_takeover(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    """No change was sent (the process died in front of it) and none can be any more: the
    takeover re-checks the plan and carries the approved rollback out, once."""
    target = executor.targets["deployment/api -n prod"]
    await _held_in_front_of_the_change(runtime, driver, slack, channel, target)
    for task in runtime.executions.running():
        task.cancel()  # the process dies in front of its change
    await asyncio.gather(*runtime.executions.running(), return_exceptions=True)
    other = await another_replica(runtime, clock, policy, executor)
    try:
        clock.advance(minutes=2)
        await other.due.run_once()
        await other.settle()
        [request] = await other.queries.history(API)
        assert request.state is RequestState.COMPLETED, request.outcome
        assert target.live == "2"
        assert executor.executions == [request.id]
        lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
        assert (
            "`deployment/api -n prod` is still at revision 3, as the plan found it; the plan is "
            "unchanged, so rollbot carries out the approved rollback now"
        ) in lines
        assert not any("nothing was rolled back" in line for line in lines)
        actions = await audit_actions(other)
        assert actions.count("execution.started") == actions.count("execution.succeeded") == 1
        assert actions.count("execution.change_sent") == 1
    finally:
        await other.close()


async def test_a_change_that_was_sent_and_is_not_there_is_never_sent_again(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    """The first process sent its change and died; the target is back at the plan's start
    (reverted by hand, or the change never landed). The takeover does not send it twice: the
    rollback fails, saying when the change was sent, and a person is asked to look."""
    target = await _die_mid_rollout(runtime, driver, slack, channel, executor)
    target.live, target.hold = "3", None
    executor.executions.clear()
    other = await another_replica(runtime, clock, policy, executor)
    try:
        clock.advance(minutes=2)
        await other.due.run_once()
        await other.settle()
        [request] = await other.queries.history(API)
        assert request.state is RequestState.FAILED
        outcome = request.outcome or ""
        assert "is still at revision 3, as the plan found it, although rollbot sent the" in outcome
        assert "rollbot never sends a rollback twice" in outcome
        assert target.live == "3"
        assert executor.executions == []
        assert any("Escalation" in line for line in thread(slack, channel))
    finally:
        await other.close()


async def test_a_takeover_never_follows_a_target_someone_else_moved(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    target = await _die_mid_rollout(runtime, driver, slack, channel, executor)
    target.live = "1"  # neither the plan's start nor its destination: a person deployed it
    other = await another_replica(runtime, clock, policy, executor)
    try:
        clock.advance(minutes=2)
        await other.due.run_once()
        await other.settle()
        [request] = await other.queries.history(API)
        assert request.state is RequestState.FAILED
        assert "revision 1, which this rollback did not set" in (request.outcome or "")
        assert target.live == "1"  # left alone
        assert any("Escalation" in line for line in thread(slack, channel))
    finally:
        await other.close()


async def test_a_slow_worker_that_lost_its_lease_never_touches_the_target(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    """The first worker is alive but stuck in front of its patch (a slow API server) past its
    lease. Another takes over and rolls back; when the first one's patch call comes round, its
    fence refuses it: the target changes once and the record is the new holder's."""
    target = executor.targets["deployment/api -n prod"]
    slow = await _held_in_front_of_the_change(runtime, driver, slack, channel, target)
    other = await another_replica(runtime, clock, policy, executor)
    try:
        clock.advance(minutes=2)
        assert await other.due.leases.reclaim() == 1
        await other.settle()
        [request] = await other.queries.history(API)
        assert request.state is RequestState.COMPLETED, request.outcome
        assert target.live == "2"
        assert executor.executions == [request.id]
        slow.set()  # the first worker's patch call comes round
        await runtime.settle()
        assert target.live == "2"  # untouched by it
        assert executor.executions == [request.id]
        [request] = await runtime.queries.history(API)
        assert request.state is RequestState.COMPLETED
        actions = await audit_actions(runtime)
        assert actions.count("execution.started") == actions.count("execution.succeeded") == 1
        assert actions.count("verification.passed") == 1
        assert (await verify_database(runtime.engine, runtime.uow.signer.public_key)).ok
    finally:
        slow.set()
        await other.close()


async def test_a_live_process_renews_its_lease(
    runtime: Runtime,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    busy = await another_replica(runtime, clock, policy, executor, execution_lease_seconds=0.3)
    target = executor.targets["deployment/api -n prod"]
    target.hold = asyncio.Event()
    try:
        url = await busy.serve_http()
        async with SlackDriver(url, SIGNING_SECRET, slack.state) as drv:
            await command(busy, drv, channel, "U0ALICE", 'deployment/api -n prod --reason "down"')
            await drv.click("U0ALICE", channel, card(slack, channel), ActionId.CHOOSE_ROLLBACK)
        await asyncio.sleep(0.05)
        clock.advance(seconds=0.2)
        await asyncio.sleep(0.2)  # a renewal (every 0.1 s) pushes the lease to now + 0.3 s
        clock.advance(seconds=0.2)  # past the first lease, within the renewed one
        assert await busy.due.leases.reclaim() == 0
        target.hold.set()
        await busy.settle()
        clock.advance(minutes=10)
        assert await busy.due.leases.reclaim() == 0  # finished: the lease was closed
        [request] = await busy.queries.history(API)
        assert request.state is RequestState.COMPLETED
    finally:
        target.hold.set()
        await busy.close()
