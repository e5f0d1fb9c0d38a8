"""Recovery charts end to end: when the watch after a rollback ends, each of the standard's
triggers the service has a Prometheus query for is drawn from `query_range` over the incident,
with the rollback's moments marked in absolute UTC; the charts join the sealed evidence pack as
a signed addendum and are shared in the request's thread. The post-mortem joins it the same way.
The sandbox Prometheus answers the real API; time is moved, never waited for."""

from __future__ import annotations

import asyncio
import io
import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot.audit.addendum import verify_addendum
from bot.audit.chain import CHECKPOINT_RULE
from bot.domain.policy import ApprovalPolicy, MetricsCheck, ServicePolicy, VerificationPolicy
from bot.domain.request import RequestState, RollbackRequest
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from integrations.health.checks import HttpVerifier
from rollbot.bootstrap.runtime import Runtime
from sandbox.service import SandboxService
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import click, command, thread

API = target_from("deployment/api", "prod")
ERRORS = 'sum(rate(http_requests_total{job="api",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="api"}[5m]))'
LATENCY = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[5m])))'


@pytest.fixture
def policy(policy: ApprovalPolicy, service: SandboxService) -> ApprovalPolicy:
    metrics = MetricsCheck(
        prometheus_url=service.url,
        error_rate_query=ERRORS,
        latency_query=LATENCY,
        baseline_latency_seconds=0.2,
    )
    plan = VerificationPolicy(metrics=metrics)
    return policy.model_copy(update={"services": {"api": ServicePolicy(verification=plan)}})


@pytest.fixture
def verifier(policy: ApprovalPolicy) -> HttpVerifier:
    return HttpVerifier(policy)


def _incident(service: SandboxService, clock: FakeClock) -> None:
    """5xx at 22 % from 20 minutes ago until the rollback, then 1 %; latency likewise."""
    now = clock.now().timestamp()
    service.state["series"][ERRORS] = [
        (now + s, 0.22 if s < 60 else 0.01) for s in range(-1200, 3600, 30)
    ]
    service.state["series"][LATENCY] = [
        (now + s, 0.9 if s < 60 else 0.21) for s in range(-1200, 3600, 30)
    ]
    service.state["metrics"] = {
        ERRORS: 0.01,
        LATENCY: 0.21,
    }  # what verification's instant query sees


async def _rolled_back_and_watched(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> RollbackRequest:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P2 --reason "5xx"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    [request] = await runtime.queries.history(API)
    assert request.state is RequestState.COMPLETED
    for _ in range(6):  # the 30-minute watch, a re-check every 5 minutes
        clock.advance(minutes=5)
        await runtime.watch.tick()
    await runtime.settle()
    return request


def _addendum(evidence: Path, request_id: str, kind: str) -> tuple[Path, dict[str, bytes]]:
    [statement] = list((evidence / request_id / "addenda").glob(f"{kind}-*/addendum.json"))
    files = {
        str(p.relative_to(statement.parent)): p.read_bytes()
        for p in statement.parent.rglob("*")
        if p.is_file() and p.name != "addendum.json"
    }
    return statement, files


async def _times(runtime: Runtime, request_id: str) -> dict[str, datetime]:
    async with runtime.uow() as uow:
        records = await uow.audit.for_request(request_id)
    return {r.action: r.at for r in records if r.action != CHECKPOINT_RULE}


async def test_the_charts_show_the_incident_with_its_times_and_join_the_pack(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    service: SandboxService,
) -> None:
    _incident(service, clock)
    request = await _rolled_back_and_watched(runtime, driver, slack, channel, clock)
    evidence = runtime.settings.evidence_dir
    statement, files = _addendum(evidence, request.id, "recovery")
    keep = os.environ.get("ROLLBOT_KEEP_CHART")
    if keep:  # for a person to look at: ROLLBOT_KEEP_CHART=path make test
        await asyncio.to_thread(Path(keep).write_bytes, files["recovery/error-rate.png"])
    assert sorted(files) == [
        "recovery/error-rate.json",
        "recovery/error-rate.png",
        "recovery/latency.json",
        "recovery/latency.png",
    ]
    times = await _times(runtime, request.id)
    start = request.created_at - timedelta(minutes=15)
    end = times["verification.watch_closed"]
    png = Image.open(io.BytesIO(files["recovery/error-rate.png"]))
    assert png.format == "PNG"
    title = png.text["Title"]  # type: ignore[attr-defined]
    assert title == f"api: {ERRORS}\n{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    facts = json.loads(png.text["Description"])  # type: ignore[attr-defined]
    assert (facts["start"], facts["end"]) == (start.isoformat(), end.isoformat())
    assert facts["threshold"] == 0.05
    marks = {m["label"]: m["at"] for m in facts["marks"]}
    assert marks["requested by alice"] == times["request.opened"].isoformat()
    assert marks["rollback patch sent"] == times["execution.change_sent"].isoformat()
    assert marks["rollout finished"] == times["execution.succeeded"].isoformat()
    assert marks["watch ended"] == end.isoformat()
    # the numbers behind the picture are the series Prometheus served, step by step
    raw = json.loads(files["recovery/error-rate.json"])
    values = [v for _, v in raw["values"]]
    assert facts["points"] == len(values) > 200
    assert values[0] == 0.22
    assert values[-1] == 0.01
    assert set(values) == {0.22, 0.01}
    latency = Image.open(io.BytesIO(files["recovery/latency.png"]))
    assert latency.text["Title"].startswith(f"api: {LATENCY}\n")  # type: ignore[attr-defined]
    assert json.loads(latency.text["Description"])["threshold"] == 0.4  # type: ignore[attr-defined]

    # signed beside the pack, and vouching for it
    pack = (evidence / request.id / f"evidence-{request.id}.tar.gz").read_bytes()
    signed = statement.read_bytes()
    key = runtime.uow.signer.public_key
    assert verify_addendum(signed, pack=pack, public_key=key, files=files) == []
    tampered = {**files, "recovery/error-rate.json": files["recovery/error-rate.json"] + b" "}
    [problem] = verify_addendum(signed, pack=pack, public_key=key, files=tampered)
    assert problem.startswith("recovery/error-rate.json was changed")
    assert verify_addendum(signed, pack=pack + b"x", public_key=key, files=files)[0].startswith(
        "the pack given has sha256"
    )

    # shared in the request's thread, and told there
    shared = [m for m in slack.state.replies(channel, _card_ts(slack, channel)) if m.get("files")]
    [upload] = shared
    assert [f["name"] for f in upload["files"]] == [
        f"{request.id}-error-rate.png",
        f"{request.id}-latency.png",
    ]
    assert upload["text"].startswith("Recovery charts for deployment/api -n prod")
    assert any(
        "Recovery charts added to the evidence pack as a signed addendum" in line
        for line in thread(slack, channel)
    )


def _card_ts(slack: SandboxSlack, channel: str) -> str:
    ts: str = next(m["ts"] for m in slack.state.history(channel) if m.get("reply_count"))
    return ts


async def test_a_prometheus_that_cannot_be_asked_draws_no_data_and_says_why(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    service: SandboxService,
) -> None:
    _incident(service, clock)
    service.state["series"].clear()  # Prometheus has no samples for these queries
    request = await _rolled_back_and_watched(runtime, driver, slack, channel, clock)
    _, files = _addendum(runtime.settings.evidence_dir, request.id, "recovery")
    png = Image.open(io.BytesIO(files["recovery/error-rate.png"]))
    assert json.loads(png.text["Description"])["points"] == 0  # type: ignore[attr-defined]
    assert json.loads(files["recovery/error-rate.json"])["values"] == []
    await service.stop()  # now it cannot be asked at all
    from bot.usecases.recovery_evidence import RecoveryEvidence

    assert isinstance(runtime.watch._evidence, RecoveryEvidence)
    clock.advance(seconds=1)
    assert await runtime.watch._evidence.watch_ended(request.id) == 2
    later = sorted(
        (runtime.settings.evidence_dir / request.id / "addenda").glob("recovery-*/addendum.json")
    )
    gaps = json.loads(later[-1].read_bytes())["statement"]["facts"]["gaps"]
    assert len(gaps) == 2
    assert all("could not be asked (ClientConnectorError)" in g for g in gaps)


async def test_the_post_mortem_joins_the_pack_as_a_signed_addendum(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    service: SandboxService,
) -> None:
    _incident(service, clock)
    request = await _rolled_back_and_watched(runtime, driver, slack, channel, clock)
    link = "https://wiki.example/pm/42"
    await command(runtime, driver, channel, "U0BOB", f"postmortem {request.id} {link}")
    await runtime.settle()
    evidence = runtime.settings.evidence_dir
    statement, files = _addendum(evidence, request.id, "post-mortem")
    assert files == {}
    signed = json.loads(statement.read_bytes())
    facts = signed["statement"]["facts"]
    assert facts["post_mortem"] == link
    assert facts["recorded_by"]["id"] == "U0BOB"
    pack = (evidence / request.id / f"evidence-{request.id}.tar.gz").read_bytes()
    key = runtime.uow.signer.public_key
    assert verify_addendum(statement.read_bytes(), pack=pack, public_key=key, files={}) == []
    forged = statement.read_bytes().replace(link.encode(), b"https://wiki.example/pm/43")
    assert verify_addendum(forged, pack=pack, public_key=key, files={}) == [
        "the signature does not match the statement: it was changed after signing"
    ]
    assert any(
        f"The post-mortem ({link}) added to the evidence pack" in line
        for line in thread(slack, channel)
    )


async def test_an_auditor_verifies_an_addendum_offline(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    service: SandboxService,
    tmp_path: Path,
) -> None:
    """With the files copied out of the store and the public key, and nothing else."""
    from typer.testing import CliRunner

    from bot.audit.keys import public_pem
    from rollbot.cli import app

    _incident(service, clock)
    request = await _rolled_back_and_watched(runtime, driver, slack, channel, clock)
    evidence = runtime.settings.evidence_dir
    statement, _ = _addendum(evidence, request.id, "recovery")
    pem = tmp_path / "audit-public.pem"
    pem.write_bytes(public_pem(runtime.uow.signer.public_key))
    pack = evidence / request.id / f"evidence-{request.id}.tar.gz"
    args = [
        "evidence",
        "verify-addendum",
        str(statement),
        "--pack",
        str(pack),
        "--public-key",
        str(pem),
    ]
    ok = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith(f"verified: the recovery addendum of {request.id}, recorded ")
    assert "vouches for 4 file(s)" in ok.output
    (statement.parent / "recovery" / "latency.png").write_bytes(b"not the chart")
    bad = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert bad.exit_code == 1
    assert bad.output.startswith("NOT VERIFIED: recovery/latency.png was changed: sha256 ")
    missing = await asyncio.to_thread(
        CliRunner().invoke, app, [*args[:4], str(tmp_path / "no.tar.gz"), *args[5:]]
    )
    assert missing.exit_code != 0
    assert "no.tar.gz does not exist" in missing.output


async def test_the_auditors_page_shows_each_rollbacks_recovery_charts(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    service: SandboxService,
) -> None:
    from bot.domain.reporting import Month
    from rollbot.cli import render_report

    _incident(service, clock)
    request = await _rolled_back_and_watched(runtime, driver, slack, channel, clock)
    _, files = _addendum(runtime.settings.evidence_dir, request.id, "recovery")
    auditor = await runtime.reports.monthly(Month(year=2026, month=11))
    [detail] = auditor.incidents
    assert detail.recovery_charts == {
        "error-rate.png": files["recovery/error-rate.png"],
        "latency.png": files["recovery/latency.png"],
    }
    page = render_report(auditor, "html")
    section = page[page.index(f'<section class="incident" id="{request.id}">') :]
    assert section.count('<figure><img alt="') == 2
    assert '<img alt="error-rate.png" src="data:image/png;base64,' in section


async def test_a_recovery_that_drifts_is_charted_at_once_and_says_so(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    service: SandboxService,
) -> None:
    import tarfile

    _incident(service, clock)
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P2 --reason "5xx"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    [request] = await runtime.queries.history(API)
    pack = runtime.settings.evidence_dir / request.id / f"evidence-{request.id}.tar.gz"
    with tarfile.open(pack) as tar:
        manifest = json.loads(tar.extractfile(f"{request.id}/manifest.json").read())  # type: ignore[union-attr]
    [verified] = manifest["verification"]["checks"]
    assert verified["checks"]["metrics"] == "passed 2/2"
    assert f"{request.id}/addenda/recovery-<time>/" in verified["charts"]
    clock.advance(minutes=5)
    await runtime.watch.tick()  # re-check 1 holds
    service.state["metrics"][ERRORS] = 0.3  # the error rate comes back
    clock.advance(minutes=5)
    assert await runtime.watch.tick() == 1
    await runtime.settle()
    _, files = _addendum(runtime.settings.evidence_dir, request.id, "recovery")
    facts = json.loads(Image.open(io.BytesIO(files["recovery/error-rate.png"])).text["Description"])  # type: ignore[attr-defined]
    times = await _times(runtime, request.id)
    assert facts["marks"][-1] == {
        "label": "watch ended: recovery did not hold",
        "at": times["verification.drifted"].isoformat(),
    }


async def test_charts_the_store_refused_are_tried_again_until_stored(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    service: SandboxService,
) -> None:
    _incident(service, clock)
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P2 --reason "5xx"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    [request] = await runtime.queries.history(API)
    blocked = runtime.settings.evidence_dir / request.id / "addenda"
    blocked.write_text("a file where the addenda should go")  # the store refuses them
    for _ in range(6):
        clock.advance(minutes=5)
        await runtime.watch.tick()
    await runtime.settle()
    told = [line for line in thread(slack, channel) if "could not be added" in line]
    assert len(told) == 1
    assert "Recovery charts could not be added to the evidence pack yet" in told[0]
    assert "rollbot tries again" in told[0]

    clock.advance(minutes=1)
    await runtime.due.run_once()  # not due yet: the first retry is 2 minutes on
    assert not any("Recovery charts added" in line for line in thread(slack, channel))
    blocked.unlink()
    clock.advance(minutes=1)
    await runtime.due.run_once()
    await runtime.settle()
    _, files = _addendum(runtime.settings.evidence_dir, request.id, "recovery")
    assert "recovery/error-rate.png" in files
    clock.advance(hours=2)
    await runtime.due.run_once()  # stored once, never again
    assert len(list(blocked.glob("recovery-*/addendum.json"))) == 1
    actions = list((await _times(runtime, request.id)).keys())
    assert "evidence.addendum_failed" in actions
    assert "evidence.addendum" in actions


async def test_a_post_mortem_the_store_refused_is_tried_again(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    service: SandboxService,
) -> None:
    _incident(service, clock)
    request = await _rolled_back_and_watched(runtime, driver, slack, channel, clock)
    addenda = runtime.settings.evidence_dir / request.id / "addenda"
    held = addenda.with_name("addenda-held")
    addenda.rename(held)
    addenda.write_text("a file where the addenda should go")
    link = "https://wiki.example/pm/9"
    await command(runtime, driver, channel, "U0BOB", f"postmortem {request.id} {link}")
    await runtime.settle()
    assert any(
        f"The post-mortem ({link}) could not be added to the evidence pack yet" in line
        for line in thread(slack, channel)
    )
    addenda.unlink()
    held.rename(addenda)
    clock.advance(minutes=3)
    await runtime.due.run_once()
    await runtime.settle()
    statement, _ = _addendum(runtime.settings.evidence_dir, request.id, "post-mortem")
    assert json.loads(statement.read_bytes())["statement"]["facts"]["post_mortem"] == link
    assert any(f"The post-mortem ({link}) added" in line for line in thread(slack, channel))
