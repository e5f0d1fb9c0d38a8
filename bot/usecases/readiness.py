"""`/readyz`: whether this process can do its job now, part by part (database, Slack, the
executors' platforms, the scheduler, the inbox and outbox backlogs), so a load balancer stops
sending it work and an SRE sees which part is down. `/healthz` stays liveness only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

# Each check answers what it found, or raises with why it is not ready.
Check = Callable[[], Awaitable[str]]
CHECK_TIMEOUT = 5.0  # a part that does not answer in this long is not ready


@dataclass(frozen=True)
class Part:
    name: str
    ready: bool
    detail: str


class NotReadyError(Exception):
    """A check's way of saying the part is up but not fit (a stalled schedule, a backlog)."""


async def _one(name: str, check: Check) -> Part:
    try:
        return Part(name, True, await asyncio.wait_for(check(), CHECK_TIMEOUT))
    except TimeoutError:
        return Part(name, False, f"no answer within {CHECK_TIMEOUT:g} s")
    except Exception as exc:
        return Part(name, False, str(exc) or type(exc).__name__)


class Readiness:
    def __init__(self, checks: Mapping[str, Check]) -> None:
        self._checks = dict(checks)

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    async def parts(self, only: str | None = None) -> list[Part]:
        """Every part, checked at once; or only the one named (as Kubernetes' /readyz/<check>),
        for a replica whose traffic needs only that part: an answering replica needs only the
        database to store what arrives, so a slow cluster must not take it out of the Service."""
        chosen = self._checks if only is None else {only: self._checks[only]}
        return list(await asyncio.gather(*(_one(n, c) for n, c in chosen.items())))
