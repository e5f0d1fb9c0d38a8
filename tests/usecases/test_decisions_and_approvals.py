"""Deciding and approving, called as use cases: each is one conditional transition."""

from __future__ import annotations

import pytest

from bot.domain import events as ev
from bot.domain.errors import ApprovalRefusedError
from bot.domain.request import RequestState
from bot.store.requests import RequestMovedOnError
from bot.usecases.transition import TargetMovedError
from tests.usecases.conftest import ALICE, BOB, World


async def test_an_older_version_waits_for_the_engineering_lead(world: World, channel: str) -> None:
    opened = (await world.open(channel=channel, to_revision="1")).request

    chosen = await world.decisions.choose_rollback(opened.id, opened.version, ALICE)
    assert chosen.state is RequestState.AWAITING_APPROVAL
    with pytest.raises(ApprovalRefusedError):
        await world.approvals.approve(chosen.id, chosen.version, ALICE)  # her own request

    approved = await world.approvals.approve(chosen.id, chosen.version, BOB)

    assert approved.state is RequestState.APPROVED
    # the approval's commit is what starts the rollback, once
    assert [r.id for r, _ in world.committed[-1].of_type(ev.ExecuteRollback)] == [approved.id]
    await world.executions.drain()
    assert (await world.reload(approved)).state is RequestState.COMPLETED
    assert world.executor.targets["deployment/api -n prod"].live == "1"


async def test_a_click_on_an_old_card_is_told_the_request_moved_on(
    world: World, channel: str
) -> None:
    opened = (await world.open(channel=channel, to_revision="1")).request
    await world.decisions.choose_rollback(opened.id, opened.version, ALICE)
    handed_on = len(world.committed)

    with pytest.raises(RequestMovedOnError):
        await world.decisions.choose_forward_fix(opened.id, opened.version, ALICE)

    assert (await world.reload(opened)).state is RequestState.AWAITING_APPROVAL
    assert len(world.committed) == handed_on  # the refused click committed nothing


async def test_approvals_lapse_when_the_target_moved(world: World, channel: str) -> None:
    opened = (await world.open(channel=channel, to_revision="1")).request
    chosen = await world.decisions.choose_rollback(opened.id, opened.version, ALICE)
    world.executor.targets["deployment/api -n prod"].live = "2"  # someone deployed by hand

    with pytest.raises(TargetMovedError):
        await world.approvals.approve(chosen.id, chosen.version, BOB)

    after = await world.reload(chosen)
    assert after.state is RequestState.AWAITING_APPROVAL
    assert after.approvals == ()
    assert not any(c.of_type(ev.ExecuteRollback) for c in world.committed)


async def test_a_forward_fix_closes_nothing_and_starts_nothing(world: World, channel: str) -> None:
    opened = (await world.open(channel=channel)).request

    fixed = await world.decisions.choose_forward_fix(opened.id, opened.version, ALICE)

    assert fixed.state is RequestState.FORWARD_FIX_CHOSEN
    assert not world.committed[-1].of_type(ev.ExecuteRollback)
