"""The database is locked while the rollout finishes: the rollback that happened is recorded as
completed once the lock is gone, and no database error reaches Slack."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.domain.request import RequestState
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import command, thread
from tests.helpers import audit_actions

API = target_from("deployment/api", "prod")
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def runtime_settings() -> dict[str, Any]:
    # writes give up on a held lock after 0.2 s instead of 30 s, so the hiccup plays quickly
    return {"database_busy_timeout_seconds": 0.2}


async def test_a_locked_database_does_not_turn_a_rollback_into_a_failure(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    executor: ScriptedExecutor,
) -> None:
    target = executor.targets["deployment/api -n prod"]
    target.hold = asyncio.Event()
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "5xx"')
    await driver.click(
        "U0ALICE",
        channel,
        next(m for m in slack.state.history(channel) if m["text"].startswith("Rollback RB-")),
        ActionId.CHOOSE_ROLLBACK,
    )
    await runtime.workers.slack.drain()  # the click's use case; its rollback runs behind
    for _ in range(500):  # until the rollout is under way (bounded)
        if executor.executions:
            break
        await asyncio.sleep(0.01)
    assert executor.executions
    path = Path(runtime.settings.database_url.split("///", 1)[1])
    lock = sqlite3.connect(path, timeout=5)
    lock.execute("BEGIN EXCLUSIVE")  # someone holds the database for a while
    target.hold.set()  # the rollout finishes while the database is locked
    await asyncio.sleep(1.5)
    lock.rollback()
    lock.close()
    await runtime.settle()

    [request] = await runtime.queries.history(API)
    assert request.state is RequestState.COMPLETED, request.outcome
    assert "execution.succeeded" in await audit_actions(runtime)
    said = " ".join(thread(slack, channel))
    assert "OperationalError" not in said
    assert "database is locked" not in said
