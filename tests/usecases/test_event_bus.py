"""The unit of work hands a commit's changes on only after the commit succeeded."""

from __future__ import annotations

import pytest

from bot.domain.notices import TimelineEntry
from tests.usecases.conftest import World


async def test_a_rolled_back_unit_of_work_hands_nothing_on(world: World, channel: str) -> None:
    opened = (await world.open(channel=channel)).request
    handed_on = len(world.committed)

    async def fails_after_writing() -> None:
        async with world.uow() as uow:
            await uow.outbox.notify(opened, TimelineEntry(action="progress"), world.clock.now())
            raise RuntimeError("the transaction fails after writing")

    with pytest.raises(RuntimeError):
        await fails_after_writing()

    assert len(world.committed) == handed_on
    assert not any(n.payload == TimelineEntry(action="progress") for n in await world.pending())


async def test_a_committed_notice_wakes_delivery_once(world: World, channel: str) -> None:
    opened = (await world.open(channel=channel)).request
    handed_on = len(world.committed)

    async with world.uow() as uow:
        await uow.outbox.notify(opened, TimelineEntry(action="progress"), world.clock.now())
        await uow.outbox.notify(opened, TimelineEntry(action="progress"), world.clock.now())

    assert len(world.committed) == handed_on + 1
    assert world.committed[-1].notices_written == 2
    assert world.committed[-1].effects == ()


async def test_a_unit_of_work_that_wrote_nothing_hands_nothing_on(world: World) -> None:
    async with world.uow() as uow:
        await uow.requests.count()

    assert world.committed == []


async def test_a_failing_handler_does_not_undo_the_commit(world: World, channel: str) -> None:
    def broken(_: object) -> None:
        raise ValueError("a handler bug")

    world.uow.on_commit(broken)

    result = await world.open(channel=channel)  # the commit stands; the other handlers ran

    assert (await world.queries.status(channel, result.request.id)).id == result.request.id
    assert len(world.committed) == 1
