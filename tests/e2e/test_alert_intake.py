"""Alertmanager webhooks open rollback requests (the change management guide triggers), once."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from bot.domain.alerts import AlertRoute
from bot.domain.policy import ApprovalPolicy
from bot.domain.request import RequestState
from bot.domain.severity import Severity
from bot.domain.targets import target_from
from rollbot.bootstrap.runtime import Runtime, build_runtime
from sandbox.executor import ScriptedExecutor, ScriptedVerifier
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import ALERT_TOKEN, FakeClock
from tests.e2e.workflow import card, thread
from tests.helpers import NOTHING, stored

API = target_from("deployment/api", "prod")


@pytest.fixture
def policy(policy: ApprovalPolicy) -> ApprovalPolicy:
    return policy.model_copy(
        update={
            "alerts": (
                AlertRoute(
                    match={"service": "api", "env": "prod"},
                    target="deployment/api",
                    namespace="prod",
                ),
            )
        }
    )


def webhook(
    status: str = "firing", *, starts: str = "2026-11-27T09:00:00Z", **labels: str
) -> dict[str, Any]:
    merged = {
        "alertname": "HighErrorRate",
        "service": "api",
        "env": "prod",
        "severity": "critical",
        **labels,
    }
    return {
        "version": "4",
        "status": status,
        "receiver": "rollbot",
        "groupLabels": {},
        "commonLabels": merged,
        "alerts": [
            {
                "status": status,
                "labels": merged,
                "startsAt": starts,
                "fingerprint": "c0ffee1234",
                "annotations": {"summary": "5xx above 5% for 5 minutes"},
            }
        ],
    }


async def _post(
    driver: SlackDriver, body: Any, auth: str | None = f"Bearer {ALERT_TOKEN}"
) -> tuple[int, Any]:
    return await _post_to(driver.bot_url, body, auth)


async def _post_to(
    events_url: str, body: Any, auth: str | None = f"Bearer {ALERT_TOKEN}"
) -> tuple[int, Any]:
    url = events_url.replace("/slack/events", "/alerts/alertmanager")
    headers = {"Authorization": auth} if auth else {}
    async with aiohttp.ClientSession() as http:
        data = body if isinstance(body, bytes) else None
        async with http.post(url, json=None if data else body, data=data, headers=headers) as resp:
            return resp.status, await resp.json()


async def _outcomes(runtime: Runtime, answer: Any) -> list[str]:
    """What the inbox worker did with each alert of a stored webhook."""
    assert answer["stored"] is True
    await runtime.settle()
    found = await runtime.alerts.alert_outcomes(answer["inbox"])
    assert found is not None, "the webhook was not processed"
    return [str(o["outcome"]) for o in found]


@pytest.mark.parametrize(
    "auth",
    [None, "Bearer wrong", "Basic " + base64.b64encode(b"alertmanager:nope").decode(), "Token x"],
)
async def test_anything_but_the_shared_secret_gets_401(
    runtime: Runtime, driver: SlackDriver, auth: str | None
) -> None:
    status, _ = await _post(driver, webhook(), auth)
    assert status == 401
    assert await stored(runtime) == NOTHING


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"status": "firing"}', b'{"alerts": [{"labels": {}}]}']
)
async def test_malformed_bodies_get_400(runtime: Runtime, driver: SlackDriver, body: bytes) -> None:
    status, answer = await _post(driver, body)
    assert status == 400
    assert "not an Alertmanager webhook" in answer["error"]
    assert await stored(runtime) == NOTHING


async def test_an_alert_opens_one_request_and_repeats_are_noted(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack
) -> None:
    status, answer = await _post(driver, webhook())
    assert status == 200
    assert await _outcomes(runtime, answer) == ["opened"]
    [request] = await runtime.queries.history(API)
    assert request.state is RequestState.AWAITING_DECISION
    assert request.assessment.severity is Severity.P1
    assert request.requester.id == "alertmanager"
    assert request.reason == "alert HighErrorRate: 5xx above 5% for 5 minutes"
    channel = slack.state.channel_by_name("inc-20261127-api")
    assert channel is not None
    assert "Recommendation: ROLLBACK" in str(card(slack, channel.id)["blocks"])

    # the same webhook again (Alertmanager's repeat): stored once, so it adds nothing
    status, again = await _post(driver, webhook())
    assert (status, again["already_stored"]) == (200, True)
    # then flapping (a new startsAt), then resolved
    flapping = (await _post(driver, webhook(starts="2026-11-27T09:07:00Z")))[1]
    assert await _outcomes(runtime, flapping) == ["duplicate"]
    basic = "Basic " + base64.b64encode(f"alertmanager:{ALERT_TOKEN}".encode()).decode()
    resolved = (await _post(driver, webhook("resolved"), basic))[1]
    assert await _outcomes(runtime, resolved) == ["noted"]
    assert len(await runtime.queries.history(API)) == 1
    timeline = thread(slack, channel.id)
    assert sum("Alertmanager: HighErrorRate firing again" in t for t in timeline) == 1
    assert "Alertmanager: HighErrorRate resolved" in timeline[-1]
    async with runtime.uow() as uow:
        actors = {(e.action, e.actor_id) for e in await uow.audit.entries()}
    assert ("request.opened", "alertmanager") in actors
    assert ("alert.resolved", "alertmanager") in actors


async def test_alerts_without_a_route_or_target_are_reported_not_stored(
    runtime: Runtime, driver: SlackDriver
) -> None:
    status, answer = await _post(driver, webhook(service="billing"))
    assert status == 200
    assert await _outcomes(runtime, answer) == [
        "ignored: no route in the policy matches its labels"
    ]
    resolved = (await _post(driver, webhook("resolved")))[1]
    assert await _outcomes(runtime, resolved) == ["resolved; no open request"]
    assert (await stored(runtime)).requests == 0


async def test_an_alert_storm_opens_one_request(runtime: Runtime, driver: SlackDriver) -> None:
    import asyncio

    storm = [webhook(starts=f"2026-11-27T09:{minute:02d}:00Z") for minute in range(20)]
    answers = await asyncio.gather(*(_post(driver, body) for body in storm))
    outcomes = sorted([(await _outcomes(runtime, answer))[0] for _, answer in answers])
    assert outcomes == ["duplicate"] * 19 + ["opened"]
    assert len(await runtime.queries.history(API)) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # replicas share PostgreSQL
async def test_a_storm_spread_over_replicas_opens_one_request(
    runtime: Runtime,
    driver: SlackDriver,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
    verifier: ScriptedVerifier,
    database_url: str,
    clock: FakeClock,
) -> None:
    import asyncio

    executors = dict.fromkeys(("deployment", "configmap", "codedeploy", "flag"), executor)
    replicas = [runtime] + [
        await build_runtime(
            runtime.settings, clock=clock, policy=policy, executors=executors, verifier=verifier
        )
        for _ in range(2)
    ]
    try:
        urls = [driver.bot_url] + [await r.serve_http() for r in replicas[1:]]
        # different alerts for one target, so the idempotency key cannot be what saves us
        storm = [
            (urls[i % 3], webhook(alertname=f"Alert{i}", starts=f"2026-11-27T09:{i:02d}:00Z"))
            for i in range(15)
        ]
        answers = await asyncio.gather(*(_post_to(url, body) for url, body in storm))
        assert all(answer["stored"] for _, answer in answers)
        # every replica's worker takes webhooks from the shared inbox at once
        await asyncio.gather(*(r.alerts.drain() for r in replicas))
        outcomes = sorted([(await _outcomes(runtime, answer))[0] for _, answer in answers])
        assert outcomes == ["duplicate"] * 14 + ["opened"]
        assert len(await runtime.queries.history(API)) == 1
    finally:
        for replica in replicas[1:]:
            await replica.close()
