"""The rest of `make demo`: an incident Alertmanager opens, and the hours after a rollback, played
by moving rollbot's clock instead of waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from rollbot.bootstrap.runtime import Runtime

ALERT_TOKEN = "demo-alert-token"


class ShiftedClock:
    """The wall clock, moved forward on demand: the demo's way of letting hours pass."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def shift(self, **delta: float) -> None:
        self._offset += timedelta(**delta)


def web_alert(status: str) -> dict[str, Any]:
    """An Alertmanager v4 webhook for web's latency in prod."""
    labels = {
        "alertname": "HighLatency",
        "service": "web",
        "env": "prod",
        "severity": "warning",
    }
    return {
        "version": "4",
        "status": status,
        "receiver": "rollbot",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": labels,
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": "p95 latency 2.6x baseline for 10 minutes"},
                # Alertmanager saw it six minutes before it told rollbot (the demo's MTTD)
                "startsAt": (datetime.now(UTC) - timedelta(minutes=6)).isoformat(),
                "fingerprint": "d3m0web",
            }
        ],
    }


async def post_alert(events_url: str, body: dict[str, Any]) -> int:
    url = events_url.replace("/slack/events", "/alerts/alertmanager")
    headers = {"Authorization": f"Bearer {ALERT_TOKEN}"}
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as resp:
        return resp.status


async def let_time_pass(runtime: Runtime, clock: ShiftedClock, **delta: float) -> None:
    """Move rollbot's clock and run what the scheduler would run on its next tick."""
    clock.shift(**delta)
    await runtime.due.run_once()
    await runtime.settle()
