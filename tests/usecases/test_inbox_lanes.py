"""The inbox worker's lanes: what one channel sent is processed in the order it came, while
another channel's items run beside it, so one slow cluster does not hold up another incident."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from bot.store.inbox import InboxItem
from bot.usecases.inbox import Inbox, InboxRules, InboxWorker
from tests.usecases.conftest import World


class _Recorded:
    """Work whose items name their lane; an item of the held lane waits until released."""

    def __init__(self, lanes: int) -> None:
        self.rules = InboxRules(
            attempts=3,
            first_backoff=timedelta(seconds=1),
            max_backoff=timedelta(seconds=1),
            lanes=lanes,
        )
        self.started: list[str] = []
        self.finished: list[str] = []
        self.release = asyncio.Event()

    def lane(self, item: InboxItem) -> str:
        return str(json.loads(item.payload)["lane"])

    async def process(self, item: InboxItem) -> str:
        name = json.loads(item.payload)["name"]
        self.started.append(name)
        if name == "slow-1":
            await self.release.wait()
        self.finished.append(name)
        return "{}"

    async def given_up(self, item: InboxItem, correlation: str, error: str) -> None:
        raise AssertionError(f"nothing here fails: {error}")


async def _store(inbox: Inbox, *items: tuple[str, str]) -> None:
    for lane, name in items:
        await inbox.accept(name, json.dumps({"lane": lane, "name": name}))


async def test_other_lanes_run_while_one_waits_and_a_lane_keeps_its_order(world: World) -> None:
    inbox = Inbox("test", world.uow, world.clock)
    work = _Recorded(lanes=4)
    worker = InboxWorker(inbox, work, world.uow, world.clock)
    await _store(inbox, ("channel:A", "slow-1"), ("channel:B", "quick-1"), ("channel:A", "slow-2"))
    drain = asyncio.create_task(worker.drain())
    for _ in range(200):  # until the other lane has finished (bounded)
        if "quick-1" in work.finished:
            break
        await asyncio.sleep(0.01)
    assert work.finished == ["quick-1"]  # B did not wait for A's slow item
    assert "slow-2" not in work.started  # A's second item waits for its first
    work.release.set()
    assert await drain == 3
    assert work.finished == ["quick-1", "slow-1", "slow-2"]
    assert await inbox.waiting() == 0


async def test_one_lane_at_a_time_processes_in_the_order_stored(world: World) -> None:
    inbox = Inbox("test", world.uow, world.clock)
    work = _Recorded(lanes=1)
    work.release.set()
    worker = InboxWorker(inbox, work, world.uow, world.clock)
    await _store(inbox, ("channel:A", "slow-1"), ("channel:B", "quick-1"), ("alerts", "a-1"))
    assert await worker.drain() == 3
    assert work.started == ["slow-1", "quick-1", "a-1"]
