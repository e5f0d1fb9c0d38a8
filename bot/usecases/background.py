"""Work started after a commit, off the request path: kept until it is done, so tests and
shutdown can wait for it (drain) and nothing is cut off half-way."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
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
