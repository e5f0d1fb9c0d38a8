"""/readyz says whether this process can do its job, part by part, and names the part that is
down (503); /healthz stays liveness."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from rollbot.bootstrap.runtime import Runtime
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack


async def _get(driver: SlackDriver, path: str) -> tuple[int, Any]:
    base = driver.bot_url.removesuffix("/slack/events")
    async with aiohttp.ClientSession() as http, http.get(base + path) as resp:
        return resp.status, await resp.json()


async def test_ready_when_every_part_is(runtime: Runtime, driver: SlackDriver) -> None:
    status, body = await _get(driver, "/readyz")
    assert status == 200, body
    assert body["status"] == "ready"
    assert set(body["parts"]) == {"database", "slack", "scheduler", "backlog"}
    assert body["parts"]["slack"]["detail"].startswith("team ")
    assert body["parts"]["scheduler"]["detail"] == "not run in this process"


async def test_a_part_down_is_named_with_503(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack
) -> None:
    slack.state.token = "xoxb-rotated"  # the bot's token no longer works
    runtime.due.started_at = time.monotonic() - 1000  # and the schedule stopped ticking
    status, body = await _get(driver, "/readyz")
    assert status == 503
    assert body["failing"] == ["slack", "scheduler"]
    assert body["parts"]["slack"]["detail"] == "auth.test: invalid_auth"
    assert body["parts"]["scheduler"]["detail"].startswith("no scheduler tick for 1000 s")
    assert body["parts"]["database"] == {"ready": True, "detail": "ok"}
    assert (await _get(driver, "/healthz")) == (200, {"status": "ok"})  # still alive


async def test_one_part_alone_for_an_answering_replica(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack
) -> None:
    """An answering replica's probe asks for the database only: Slack being refused (or a slow
    cluster) must not take the replica that stores requests out of its Service."""
    slack.state.token = "xoxb-rotated"
    assert (await _get(driver, "/readyz"))[0] == 503
    status, body = await _get(driver, "/readyz/database")
    assert status == 200, body
    assert body == {
        "status": "ready",
        "failing": [],
        "parts": {"database": {"ready": True, "detail": "ok"}},
    }
    status, body = await _get(driver, "/readyz/slack")
    assert (status, body["failing"]) == (503, ["slack"])
    status, body = await _get(driver, "/readyz/etcd")
    assert status == 404
    assert body == {
        "error": "no part named etcd; the parts are database, slack, scheduler, backlog"
    }
