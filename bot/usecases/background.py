"""Work started after a commit, off the request path: kept until it is done, so tests and
shutdown can wait for it (drain) and nothing is cut off half-way."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for everything started so far, and for what that started in turn."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def running(self) -> list[asyncio.Task[None]]:
        return list(self._tasks)


class WakeLoop:
    """Run `work` when woken, and every `poll` seconds anyway, until stopped; a round that fails
    is logged and the loop goes on, so one bad round never stops delivery or the inbox."""

    def __init__(
        self, name: str, work: Callable[[], Awaitable[object]], *, poll: float, log: Any
    ) -> None:
        self._name = name
        self._work = work
        self._poll = poll
        self._log = log
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            self._wake.clear()
            try:
                await self._work()
            except Exception as exc:  # the loop must outlive any one bad round
                self._log.error(f"{self._name}_round_failed", error=repr(exc), exc_info=exc)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
