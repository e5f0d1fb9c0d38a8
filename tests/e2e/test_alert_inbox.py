"""Alertmanager never sends a webhook again after a 200: rollbot answers 200 only once the
webhook is stored, 503 when it cannot store it, and processes it behind, through Slack
outages and restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.domain.alerts import AlertRoute
from bot.domain.policy import ApprovalPolicy
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.test_alert_intake import API, _post, webhook
from tests.helpers import another_replica


@pytest.fixture
def policy(policy: ApprovalPolicy) -> ApprovalPolicy:
    route = AlertRoute(
        match={"service": "api", "env": "prod"}, target="deployment/api", namespace="prod"
    )
    return policy.model_copy(update={"alerts": (route,)})


@pytest.fixture
def runtime_settings() -> dict[str, Any]:
    # a locked database answers within a moment instead of waiting 30 s for the lock
    return {"database_busy_timeout_seconds": 0.3}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_alert_the_database_cannot_take_gets_503_and_the_retry_is_stored(
    runtime: Runtime, driver: SlackDriver, database_url: str
) -> None:
    path = Path(str(make_url(database_url).database))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    try:
        status, answer = await _post(driver, webhook())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status == 503
    assert "send it again" in answer["error"]
    assert await runtime.alerts.drain() == 0  # nothing was stored
    status, answer = await _post(driver, webhook())  # Alertmanager's retry
    assert (status, answer["stored"], answer["already_stored"]) == (200, True, False)
    await runtime.settle()
    assert [r.state.value for r in await runtime.queries.history(API)] == ["awaiting_decision"]


async def test_an_alert_during_a_slack_outage_is_kept_and_opened_once_slack_is_back(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, clock: FakeClock
) -> None:
    slack.state.fail_next("conversations.create", status=503, times=1)
    status, answer = await _post(driver, webhook())
    assert status == 200  # stored: Alertmanager need not send it again
    await runtime.settle()
    assert await runtime.alerts.alert_outcomes(answer["inbox"]) is None  # postponed, not dropped
    assert await runtime.queries.history(API) == []
    clock.advance(minutes=1)
    await runtime.settle()
    outcomes = await runtime.alerts.alert_outcomes(answer["inbox"])
    assert [o["outcome"] for o in outcomes or []] == ["opened"]
    assert len(await runtime.queries.history(API)) == 1


async def test_a_stopped_worker_leaves_the_webhook_to_the_next_one(
    runtime: Runtime,
    driver: SlackDriver,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    status, answer = await _post(driver, webhook())  # stored; this process stops before its turn
    assert status == 200
    await runtime.alerts.stop()
    restarted = await another_replica(runtime, clock, policy, executor)
    try:
        assert await restarted.alerts.drain() == 1
        outcomes = await restarted.alerts.alert_outcomes(answer["inbox"])
        assert [o["outcome"] for o in outcomes or []] == ["opened"]
        assert await runtime.alerts.drain() == 0  # and it is not processed twice
    finally:
        await restarted.close()
