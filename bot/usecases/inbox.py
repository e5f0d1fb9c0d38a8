"""The durable inbox: what Slack or Alertmanager sent is stored in one statement before it is
answered, and a worker processes it behind the answer.

One worker per kind of sender. Each claims waiting items (no two workers ever hold the same
one), hands each to its `InboxWork`, and marks it processed. An item whose processing failed in
a way that may pass (the database was busy, a bug we fixed by redeploying) is tried again with
backoff; after its last try it is marked failed and the work's `given_up` tells a person, so
nothing is dropped without somebody hearing. Processed items are kept for the retention period
(to answer "what did that do?"), then pruned; failed ones are kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from bot.ports import Clock
from bot.store.engine import is_dropped_connection, is_transient
from bot.store.inbox import InboxItem, InboxWriter
from bot.store.uow import UnitOfWork, UnitOfWorkFactory
from bot.usecases.background import WakeLoop

log = structlog.get_logger("rollbot.inbox")


class InboxUnavailableError(Exception):
    """The database could not store what arrived: the sender must send it again."""


class TryAgainError(Exception):
    """Processing must be tried again later; `outcomes` is what it finished so far (JSON)."""

    def __init__(self, error: Exception, outcomes: str) -> None:
        super().__init__(repr(error))
        self.error = error
        self.outcomes = outcomes


@dataclass(frozen=True)
class InboxRules:
    attempts: int
    first_backoff: timedelta
    max_backoff: timedelta
    retention: timedelta = timedelta(days=30)
    # Each try is held this long; a worker that died holding it is replaced after it.
    hold: timedelta = timedelta(minutes=2)
    batch: int = 20
    # Lanes worked on at once. Items of one lane (see InboxWork.lane) run one after another in
    # the order they came; different lanes run side by side, so one slow cluster or a
    # rate-limited channel holds up only its own lane.
    lanes: int = 1

    def backoff(self, attempts: int) -> timedelta:
        grown: timedelta = self.first_backoff * (2 ** min(attempts, 16))
        return min(grown, self.max_backoff)


class InboxWork(Protocol):
    """What one kind of sender's items mean: how to process one, and whom to tell when the
    last try failed."""

    rules: InboxRules

    async def process(self, item: InboxItem) -> str:
        """Do it; return its outcomes as JSON. Raise TryAgainError to be tried again."""

    async def given_up(self, item: InboxItem, correlation: str, error: str) -> None:
        """The last try failed: tell a person, quoting `correlation`."""

    def lane(self, item: InboxItem) -> str:
        """Which items must keep their order: those of one lane are processed one at a time."""


@dataclass(frozen=True)
class Accepted:
    item: int | None  # None: the same thing was stored before (a sender's retry)


class Inbox:
    """The storing half, all the answering path needs: one statement, then a wake-up for the
    workers of this process (others find it on their next poll)."""

    def __init__(self, kind: str, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self.kind = kind
        self._uow = uow
        self._writer = InboxWriter(uow.engine)
        self._clock = clock
        self._stored: list[Callable[[], None]] = []

    def on_stored(self, wake: Callable[[], None]) -> None:
        self._stored.append(wake)

    async def accept(self, key: str, payload: str) -> Accepted:
        """Store it in one statement; InboxUnavailableError when the database cannot.

        The pool does not ping before each use (that doubles the round trips of the answering
        path), so a connection the server dropped is found here: the pool throws it and every
        idle one away, and the second try runs on a fresh connection."""
        for attempt in (1, 2):
            try:
                item = await self._writer.add(self.kind, key, payload, self._clock.now())
                break
            except Exception as exc:
                if is_dropped_connection(exc) and attempt == 1:
                    continue
                if is_transient(exc) or isinstance(exc, OSError | TimeoutError):
                    log.warning("inbox_not_stored", kind=self.kind, error=repr(exc))
                    raise InboxUnavailableError(str(exc)) from exc
                raise
        for wake in self._stored:
            wake()
        return Accepted(item)

    async def outcomes(self, item: int) -> str | None:
        """What processing did (JSON), once it finished; None before."""
        async with self._uow() as uow:
            found = await uow.inbox.outcomes(item)
        if found is None or not found[1]:
            return None
        return found[0]

    async def waiting(self) -> int:
        async with self._uow() as uow:
            return await uow.inbox.waiting(self.kind)


class InboxWorker:
    """The processing half: claims what its inbox holds and hands each item to its work."""

    def __init__(
        self,
        inbox: Inbox,
        work: InboxWork,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        poll: float = 5.0,
    ) -> None:
        self.inbox = inbox
        self.work = work
        self._kind = inbox.kind
        self._uow = uow
        self._clock = clock
        self._loop = WakeLoop(f"{inbox.kind}_inbox", self.drain, poll=poll, log=log)
        inbox.on_stored(self._loop.wake)
        self._lock = asyncio.Lock()
        self._pruned_at: datetime | None = None

    async def drain(self) -> int:
        """Process everything waiting and due; return how many items finished."""
        async with self._lock:
            await self._prune()
            finished = 0
            while True:
                now = self._clock.now()
                rules = self.work.rules
                async with self._uow() as uow:
                    items = await uow.inbox.claim(
                        self._kind, now, now + rules.hold, limit=rules.batch
                    )
                if not items:
                    return finished
                finished += await self._lanes(items)

    async def _lanes(self, items: list[InboxItem]) -> int:
        lanes: dict[str, list[InboxItem]] = {}
        for item in items:  # claimed in the order they were stored
            lanes.setdefault(self.work.lane(item), []).append(item)
        room = asyncio.Semaphore(self.work.rules.lanes)

        async def in_order(lane: list[InboxItem]) -> int:
            async with room:
                return sum([await self._one(item) for item in lane])

        done = await asyncio.gather(*(in_order(lane) for lane in lanes.values()))
        return sum(done)

    async def _one(self, item: InboxItem) -> int:
        try:
            outcomes = await self.work.process(item)
        except TryAgainError as again:
            await self._postpone(item, again.error, again.outcomes)
            return 0
        except Exception as exc:  # a bug or a passing fault: tried again, then a person hears
            await self._postpone(item, exc, item.outcomes)
            return 0
        async with self._uow() as uow:
            await uow.inbox.processed(item.id, self._clock.now(), outcomes)
        return 1

    async def _postpone(self, item: InboxItem, error: Exception, outcomes: str) -> None:
        rules = self.work.rules
        last = item.attempts + 1 >= rules.attempts
        now = self._clock.now()
        when = now if last else now + rules.backoff(item.attempts)
        async with self._uow() as uow:
            await uow.inbox.postpone(item.id, when, repr(error), outcomes, failed=last)
        fields = {"kind": self._kind, "inbox": item.id, "attempts": item.attempts + 1}
        if not last:
            log.warning("inbox_item_postponed", **fields, error=repr(error))
            return
        correlation = f"inbox-{item.id}"
        log.error("inbox_item_given_up", **fields, correlation_id=correlation, exc_info=error)
        try:
            await self.work.given_up(item, correlation, repr(error))
        except Exception as exc:  # telling failed too: the log line above is what is left
            log.error("inbox_give_up_not_told", **fields, error=repr(exc))

    async def _prune(self) -> None:
        now = self._clock.now()
        if self._pruned_at is not None and now - self._pruned_at < timedelta(hours=1):
            return
        retention = self.work.rules.retention
        async with self._uow() as uow:
            gone = await uow.inbox.prune(self._kind, now - retention)
        self._pruned_at = now
        if gone:
            log.info("inbox_pruned", kind=self._kind, items=gone, older_than=str(retention))

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
