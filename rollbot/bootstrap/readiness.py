"""The parts `/readyz` checks in a running rollbot, built from what the runtime holds."""

from __future__ import annotations

import time
from collections.abc import Mapping

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.duework.scheduler import DueWork
from bot.ports import Clock
from bot.store.gauges import read_gauges
from bot.usecases.readiness import Check, NotReadyError, Readiness

# An item older than this in the inbox (not processed) or the outbox (not delivered) means the
# workers or Slack delivery are not keeping up.
BACKLOG_SECONDS = 300
SLACK_RECHECK_SECONDS = 60  # auth.test at most once a minute, whatever the probe period


class _SlackAuth:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._ok: tuple[float, str] | None = None

    async def check(self) -> str:
        if self._ok is not None and time.monotonic() - self._ok[0] < SLACK_RECHECK_SECONDS:
            return self._ok[1]
        try:
            answer = await self._client.auth_test()
        except SlackApiError as exc:
            self._ok = None
            raise NotReadyError(f"auth.test: {exc.response.get('error', 'refused')}") from None
        said = f"team {answer.get('team_id')}"
        self._ok = (time.monotonic(), said)
        return said


def readiness(
    engine: AsyncEngine,
    client: AsyncWebClient,
    due: DueWork,
    clock: Clock,
    probes: Mapping[str, Check],
) -> Readiness:
    async def database() -> str:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return "ok"

    async def scheduler() -> str:
        stalled = due.stalled()
        if stalled is not None:
            raise NotReadyError(stalled)
        return "ticking" if due.started_at is not None else "not run in this process"

    async def backlog() -> str:
        now = await read_gauges(engine, clock.now())
        for what, waiting in (("stored request", now.inbox), ("Slack message", now.outbox)):
            if waiting.oldest_seconds > BACKLOG_SECONDS:
                raise NotReadyError(
                    f"the oldest {what} has waited {waiting.oldest_seconds:.0f} s "
                    f"({waiting.waiting} waiting)"
                )
        return f"{now.inbox.waiting} stored requests and {now.outbox.waiting} messages waiting"

    checks: dict[str, Check] = {
        "database": database,
        "slack": _SlackAuth(client).check,
        "scheduler": scheduler,
        "backlog": backlog,
    }
    return Readiness({**checks, **probes})
