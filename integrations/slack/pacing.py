"""About one message a second per channel, with a short burst: Slack's posting limit
(https://api.slack.com/apis/rate-limits#posting-messages). Past it Slack answers 429; pacing
ourselves keeps a rollout's messages from being thrown back and retried out of step.

Pacing is about Slack's real clock, so it runs on the monotonic clock, never the scheduler's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class ChannelPace:
    """A token bucket per channel."""

    def __init__(
        self,
        per_second: float = 1.0,
        burst: int = 4,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rate = per_second
        self._burst = float(max(1, burst))
        self._now = now
        self._sleep = sleep
        self._buckets: dict[str, tuple[float, float]] = {}

    def _refill(self, channel: str) -> float:
        now = self._now()
        tokens, since = self._buckets.get(channel, (self._burst, now))
        return min(self._burst, tokens + max(0.0, now - since) * self._rate)

    async def take(self, channel: str) -> None:
        """Spend one message of the channel's allowance, waiting until there is one."""
        tokens = self._refill(channel)
        if tokens < 1.0:
            await self._sleep((1.0 - tokens) / self._rate)
            tokens = max(1.0, self._refill(channel))
        self._buckets[channel] = (tokens - 1.0, self._now())
        if len(self._buckets) > 10_000:  # forget channels long quiet (their bucket is full again)
            self._buckets = dict(list(self._buckets.items())[-1_000:])
