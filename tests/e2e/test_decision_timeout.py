"""No decision within 30 minutes of the prompt: rollbot rolls back, announced first, audited as
the system's decision (the rollback and incident response standard Phase 5). Time is moved, never waited for."""

from __future__ import annotations

import asyncio

from bot.audit.chain import CHECKPOINT_RULE
from bot.domain.policy import ApprovalPolicy
from bot.domain.request import RequestState
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor, ScriptedVerifier
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import command, thread
from tests.helpers import another_replica


async def _audit(runtime: Runtime) -> list[tuple[str, str]]:
    async with runtime.uow() as uow:
        return [
            (e.action, e.actor_id) for e in await uow.audit.entries() if e.action != CHECKPOINT_RULE
        ]


async def test_nobody_decides_and_rollbot_rolls_back(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    executor: ScriptedExecutor,
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P1 --reason "down"'
    )
    clock.advance(minutes=29)
    assert await runtime.due.timeouts.tick() == 0
    clock.advance(minutes=1)
    assert await runtime.due.timeouts.tick() == 1
    assert await runtime.due.timeouts.tick() == 0  # a second tick (or replica) finds nothing to do
    await runtime.settle()

    [request] = await runtime.queries.list_open(channel)
    # rolled back: alice is on call, a last-version rollback needs nobody else; a P1 then waits
    # for a person to confirm recovery
    assert request.state is RequestState.AWAITING_RECOVERY_CONFIRMATION
    timeline = thread(slack, channel)
    announce = next(i for i, t in enumerate(timeline) if "Automatic rollback starting" in t)
    started = next(i for i, t in enumerate(timeline) if "started the rollback" in t)
    assert announce < started
    assert ("decision.timeout_rollback", "rollbot") in await _audit(runtime)
    assert len(executor.executions) == 1


async def test_a_decision_in_time_stops_the_timeout(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P2 --reason "slow"'
    )
    [request] = await runtime.queries.list_open(channel)
    await runtime.decisions.choose_forward_fix(request.id, request.version, request.requester)
    clock.advance(hours=2)
    assert await runtime.due.timeouts.tick() == 0
    assert (
        await runtime.queries.status(channel, request.id)
    ).state is RequestState.FORWARD_FIX_CHOSEN


async def test_the_timeout_survives_a_restart_and_fires_once_across_replicas(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
    verifier: ScriptedVerifier,
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P1 --reason "down"'
    )
    await runtime.close()  # the replica that opened the request is gone
    replicas = [await another_replica(runtime, clock, policy, executor, verifier) for _ in range(2)]
    try:
        clock.advance(minutes=30)
        fired = await asyncio.gather(*(r.due.timeouts.tick() for r in replicas + replicas))
        assert sum(fired) == 1
        for replica in replicas:
            await replica.settle()
        assert len(executor.executions) == 1
        async with replicas[0].uow() as uow:
            actions = [e.action for e in await uow.audit.entries() if e.action != CHECKPOINT_RULE]
        assert actions.count("decision.timeout_rollback") == 1
    finally:
        for replica in replicas:
            await replica.close()
