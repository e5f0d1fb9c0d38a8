"""What is owed after a rollback, and what the clock does: decision timeouts and reminders."""

from __future__ import annotations

from bot.domain import events as ev
from bot.domain.notices import NoticeKind, Reminder
from bot.domain.request import RequestState
from tests.usecases.conftest import ALICE, BOB, World


async def _rolled_back(world: World, channel: str) -> str:
    opened = (await world.open(channel=channel)).request
    await world.decisions.choose_rollback(opened.id, opened.version, ALICE)  # auto-approved
    await world.executions.drain()
    done = await world.reload(opened)
    assert done.state is RequestState.COMPLETED
    return done.id


async def _post_mortem_reminders(world: World) -> list[Reminder]:
    found = [n.payload for n in await world.pending() if n.kind is NoticeKind.REMINDER]
    return [r for r in found if isinstance(r, Reminder) and r.obligation == "post_mortem"]


async def test_a_post_mortem_is_chased_until_it_is_recorded(world: World, channel: str) -> None:
    request_id = await _rolled_back(world, channel)

    world.clock.advance(hours=49)
    assert await world.reminders.tick() >= 1
    [reminder] = await _post_mortem_reminders(world)
    assert reminder.link_thread  # it points to the draft in the request's thread

    met = await world.aftercare.meet_obligation(
        request_id, ev.ObligationKind.POST_MORTEM, BOB, "https://wiki.example/pm"
    )
    assert met.obligation(ev.ObligationKind.POST_MORTEM).met_at is not None  # type: ignore[union-attr]
    world.clock.advance(hours=2)
    await world.reminders.tick()
    assert len(await _post_mortem_reminders(world)) == 1  # the chase stopped


async def test_nobody_deciding_in_time_rolls_back_once(world: World, channel: str) -> None:
    opened = (await world.open(channel=channel)).request

    world.clock.advance(minutes=29)
    assert await world.timeouts.tick() == 0
    world.clock.advance(minutes=2)
    assert await world.timeouts.tick() == 1
    assert await world.timeouts.tick() == 0  # a second tick (or replica) finds nothing

    await world.executions.drain()
    assert (await world.reload(opened)).state is RequestState.COMPLETED


async def test_recovery_confirmed_by_a_person_is_recorded(world: World, channel: str) -> None:
    request_id = await _rolled_back(world, channel)

    confirmed = await world.aftercare.confirm_recovery(request_id, BOB)

    actions = [e.action for _, e in world.committed[-1].of_type(ev.AuditEffect)]
    assert actions == ["recovery.confirmed"]
    assert confirmed.id == request_id
