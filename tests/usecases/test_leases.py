"""The execution lease: held from the moment a rollback starts, and fenced. A process that lost
it to another never touches the target."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.domain.request import RequestState
from bot.duework.leases import RollbackLeases
from bot.store.due_items import DueKind
from bot.usecases.leasing import LeaseRules
from sandbox.executor import ScriptedTarget
from tests.helpers import eventually
from tests.usecases.conftest import ALICE, World

API = "deployment/api -n prod"


@pytest.fixture
def lease() -> timedelta:
    return timedelta(seconds=0.3)  # renewed every 0.1 s


async def _start_with_a_slow_capture(world: World, channel: str) -> tuple[str, ScriptedTarget]:
    target = world.executor.targets[API]
    target.capture_hold = asyncio.Event()
    opened = (await world.open(channel=channel)).request
    await world.decisions.choose_rollback(opened.id, opened.version, ALICE)  # auto-approved
    await eventually(  # until the evidence capture is waiting on the slow API
        lambda: bool(target.capturing), "the evidence capture never started", seconds=5.0
    )
    return opened.id, target


async def test_a_slow_evidence_capture_keeps_the_lease(world: World, channel: str) -> None:
    request_id, target = await _start_with_a_slow_capture(world, channel)

    try:
        world.clock.advance(minutes=10)  # far past the lease taken when the rollback started
        await asyncio.sleep(0.4)  # the working process renews meanwhile
        leases = RollbackLeases(world.uow, world.clock, world.executions)
        assert await leases.reclaim() == 0
    finally:
        target.capture_hold.set()  # type: ignore[union-attr]
    await world.executions.drain()
    assert (await world.transitions.load(request_id)).state is RequestState.COMPLETED
    assert world.executor.executions == [request_id]  # rolled back once


async def test_a_process_that_lost_its_lease_never_touches_the_target(
    world: World, channel: str
) -> None:
    request_id, target = await _start_with_a_slow_capture(world, channel)
    try:
        # another process takes the rollback over, as it does once a lease lapses
        async with world.uow() as uow:
            later = world.clock.now() + timedelta(days=1)
            [item] = await uow.due.claim(later, limit=5, kinds=(DueKind.EXECUTION_LEASE,))
            assert await uow.due.advance(item.id, item.stage, next_due=later, done=None)
        await asyncio.sleep(0.4)  # the first process's next renewal finds the lease gone
    finally:
        target.capture_hold.set()  # type: ignore[union-attr]
    await world.executions.drain()
    assert world.executor.executions == []  # it stopped without rolling back
    assert target.live == "3"
    assert (
        await world.transitions.load(request_id)
    ).state is RequestState.EXECUTING  # the new owner's


@pytest.mark.parametrize(
    "lease_rules",
    [
        LeaseRules(stall=timedelta(minutes=1), grace=timedelta(0)),
        LeaseRules(deadline=timedelta(minutes=1), grace=timedelta(0)),
    ],
    ids=["no progress for longer than the stall", "past the rollback's deadline"],
)
async def test_a_stuck_rollback_is_not_renewed_for_ever(world: World, channel: str) -> None:
    """Renewal is not a heartbeat of the process alone: a rollback that stopped making
    progress, or ran past its deadline, lets its lease fall due so another process looks."""
    request_id, target = await _start_with_a_slow_capture(world, channel)
    leases = RollbackLeases(world.uow, world.clock, world.executions)
    try:
        world.clock.advance(minutes=2)
        await asyncio.sleep(0.4)  # renewals were due; none was made
        assert await leases.reclaim() == 1
    finally:
        target.capture_hold.set()  # type: ignore[union-attr]
    await world.executions.drain()
    assert (await world.transitions.load(request_id)).state is RequestState.COMPLETED
    assert world.executor.executions == [request_id]  # still rolled back once
