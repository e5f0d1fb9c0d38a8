"""Queries, alert intake, the monthly report, evidence and the audit export, as use cases."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from bot.domain.alerts import AlertRoute
from bot.domain.policy import ApprovalPolicy
from bot.domain.reporting import Month
from bot.domain.request import RequestState
from bot.domain.targets import target_from
from bot.usecases.alert_intake import AlertIntake, AlertmanagerWebhook
from bot.usecases.audit_export import export_bundle, verify_bundle, verify_database
from bot.usecases.queries import NoRequestHereError
from bot.usecases.reports import ReportService
from tests.usecases.conftest import ALICE, World

API = target_from("deployment/api", "prod")


@pytest.fixture
def policy(policy: ApprovalPolicy) -> ApprovalPolicy:
    route = AlertRoute(match={"service": "api"}, target="deployment/api", namespace="prod")
    return policy.model_copy(update={"alerts": (route,)})


def _webhook(status: str) -> AlertmanagerWebhook:
    alert = {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "service": "api"},
        "startsAt": "2026-11-27T08:55:00Z",
        "fingerprint": "f1",
    }
    return AlertmanagerWebhook.model_validate({"status": status, "alerts": [alert]})


async def test_queries_read_what_is_stored(world: World, channel: str) -> None:
    with pytest.raises(NoRequestHereError):
        await world.queries.status(channel, None)

    opened = (await world.open(channel=channel)).request

    assert (await world.queries.status(channel, None)).id == opened.id
    assert [r.id for r in await world.queries.list_open(channel)] == [opened.id]
    assert [r.id for r in await world.queries.history(API)] == [opened.id]


async def test_an_alert_opens_one_request_and_notes_the_rest(
    world: World, policy: ApprovalPolicy
) -> None:
    intake = AlertIntake(world.opening, world.queries, world.uow, world.clock, policy)

    [alert] = _webhook("firing").alerts
    first = await intake.one(alert)
    repeat = await intake.one(alert)
    resolved = await intake.one(_webhook("resolved").alerts[0])

    assert first["outcome"] == "opened"
    assert repeat["outcome"] != "opened"
    assert resolved["outcome"] == "noted"
    [request] = await world.queries.history(API)
    assert request.detected_at is not None  # when the alert says the problem started


async def test_a_rollback_shows_in_the_month_and_in_a_verified_export(
    world: World, channel: str, tmp_path: Path
) -> None:
    opened = (await world.open(channel=channel)).request
    await world.decisions.choose_rollback(opened.id, opened.version, ALICE)
    await world.executions.drain()
    assert (await world.reload(opened)).state is RequestState.COMPLETED

    report = await ReportService(world.uow, world.clock).monthly(Month(year=2026, month=11))
    assert report.report.metrics.rollback_count == 1
    assert [d.request.id for d in report.incidents] == [opened.id]
    assert report.incidents[0].evidence_sha256  # the pack was stored and its hash recorded

    signer = world.uow.signer
    assert (await verify_database(world.uow.engine, signer.public_key)).ok
    summary = await export_bundle(world.uow.engine, signer.public_key, tmp_path / "audit.tar.gz")
    assert summary.entries > 0
    assert verify_bundle(summary.path).ok
    with tarfile.open(summary.path) as tar:
        assert "entries.jsonl" in tar.getnames()
