"""Rollback drills end to end: the real Kubernetes executor on the sandbox cluster, the
service's health check over HTTP, the drill's record, audit entries and evidence pack; and the
readiness gate a pipeline runs before it deploys, as the `rollbot readiness` command."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from typer.testing import CliRunner

from bot.domain.drill_policy import DrillPolicy
from bot.domain.drills import DrillRefusedError, DrillState
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy, HttpCheck, ServicePolicy, VerificationPolicy
from bot.domain.targets import target_from
from bot.ports import SystemClock
from integrations.evidence.store import LocalEvidenceStore
from integrations.health.checks import HttpVerifier
from integrations.kubernetes.deployment import KubernetesExecutor
from rollbot.bootstrap.drills import drill_runner
from rollbot.bootstrap.runtime import Runtime
from rollbot.cli import app
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube
from sandbox.service import SandboxService
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import card, command
from tests.helpers import audit_actions

STAGING = target_from("deployment/api", "staging")
PROD = target_from("deployment/api", "prod")
ALICE = Person(id="U0ALICE", name="alice")
GATE_TOKEN = "gate-token-for-ci"


@pytest.fixture
async def kube() -> AsyncIterator[SandboxKube]:
    """api v1 → v2 in staging (the release under test) and v1 in prod."""
    cluster = SandboxKube(rollout_seconds=0.3)
    await cluster.start()
    await release_app(cluster, "api", ("registry/api:v1", "registry/api:v2"), "staging")
    await release_app(cluster, "api", ("registry/api:v0", "registry/api:v1"), "prod")
    yield cluster
    await cluster.stop()


@pytest.fixture
def runtime_settings() -> dict[str, Any]:
    return {"readiness_token": GATE_TOKEN}


@pytest.fixture
def executors(kube: SandboxKube, tmp_path: Path) -> dict[str, Any]:
    """The bot's own executors: the real Kubernetes one on the sandbox cluster."""
    kc = kube.write_kubeconfig(tmp_path / "bot-kc")
    return {"deployment": KubernetesExecutor(kubeconfig=kc, rollout_timeout=30)}


@pytest.fixture
def policy(policy: ApprovalPolicy, service: SandboxService) -> ApprovalPolicy:
    health = HttpCheck(name="api", url=f"{service.url}/healthz", expect_body="ok")
    api = ServicePolicy(verification=VerificationPolicy(health=(health,)))
    drills = DrillPolicy(environments=("staging",))
    return policy.model_copy(update={"services": {"api": api}, "drills": drills})


def _runner(runtime: Runtime, policy: ApprovalPolicy, kube: SandboxKube, tmp_path: Path) -> object:
    real = KubernetesExecutor(kubeconfig=kube.write_kubeconfig(tmp_path / "kc"), rollout_timeout=30)
    store = LocalEvidenceStore(tmp_path / "evidence")
    checks = (HttpVerifier(policy, timeout=5), store)
    return drill_runner(runtime.uow, SystemClock(), policy, {"deployment": real}, checks)


def _image(kube: SandboxKube, namespace: str) -> str:
    live = kube.store.get("deployments", namespace, "api")
    assert live is not None
    return str(live["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_a_passing_drill_rolls_back_measures_rolls_forward_and_keeps_proof(
    runtime: Runtime, policy: ApprovalPolicy, kube: SandboxKube, tmp_path: Path
) -> None:
    runner = _runner(runtime, policy, kube, tmp_path)
    said: list[str] = []

    async def say(line: str) -> None:
        said.append(line)

    drill = await runner.run(STAGING, ALICE, say)  # type: ignore[attr-defined]

    assert drill.state is DrillState.PASSED, drill.failure
    assert (drill.start_identity, drill.previous_identity) == ("registry/api:v2", "registry/api:v1")
    assert drill.rolled_back_to == "registry/api:v1"
    assert drill.rolled_forward_identity == "registry/api:v2"
    assert _image(kube, "staging") == "registry/api:v2"  # where it started
    assert _image(kube, "prod") == "registry/api:v1"  # never touched
    assert drill.time_to_rolled_out is not None
    assert drill.time_to_verified is not None
    assert drill.time_to_rolled_out <= drill.time_to_verified <= drill.target_time
    assert drill.rollback_checks
    assert drill.forward_checks
    assert any("successfully rolled out" in line for line in said)
    actions = await audit_actions(runtime)
    assert actions[0] == "drill.started"
    assert actions[-1] == "drill.passed"
    assert actions.count("drill.RolledOut") == 2
    assert actions.count("drill.Checked") == 2
    pack = tmp_path / "evidence" / "drills" / drill.id
    stored = json.loads((pack / "drill.json").read_text())
    assert stored["state"] == "passed"
    assert stored["id"] == drill.id
    manifest = json.loads((pack / "manifest.json").read_text())
    assert set(manifest) == {"drill.json", "target-before.json", "target-after.json"}


async def test_a_rollback_slower_than_the_target_fails_with_its_measured_time(
    runtime: Runtime, policy: ApprovalPolicy, kube: SandboxKube, tmp_path: Path
) -> None:
    kube.controller.rollout_seconds = 1.0  # a slow rollout
    hurried = policy.model_copy(
        update={"drills": DrillPolicy(environments=("staging",), target=timedelta(seconds=0.2))}
    )
    drill = await _runner(runtime, hurried, kube, tmp_path).run(STAGING, ALICE)  # type: ignore[attr-defined]

    assert drill.state is DrillState.FAILED
    assert drill.failure is not None
    assert "past the 0.2 s target" in drill.failure
    assert "the rollback was verified after" in drill.failure
    assert _image(kube, "staging") == "registry/api:v2"  # still rolled forward


async def test_a_drill_whose_check_fails_stops_and_leaves_the_rollback_in_place(
    runtime: Runtime,
    policy: ApprovalPolicy,
    kube: SandboxKube,
    tmp_path: Path,
    service: SandboxService,
) -> None:
    service.state["health_status"] = 503
    drill = await _runner(runtime, policy, kube, tmp_path).run(STAGING, ALICE)  # type: ignore[attr-defined]

    assert drill.state is DrillState.FAILED
    assert drill.failure is not None
    assert drill.failure.startswith("checking the previous version")
    assert _image(kube, "staging") == "registry/api:v1"  # as the failed step left it
    assert drill.rolled_forward_at is None
    assert (await audit_actions(runtime))[-1] == "drill.failed"


async def test_a_drill_in_production_is_refused_without_game_days_and_nothing_is_stored(
    runtime: Runtime, policy: ApprovalPolicy, kube: SandboxKube, tmp_path: Path
) -> None:
    with pytest.raises(DrillRefusedError, match=r"not a drill environment .*game day"):
        await _runner(runtime, policy, kube, tmp_path).run(PROD, ALICE)  # type: ignore[attr-defined]
    assert _image(kube, "prod") == "registry/api:v1"
    async with runtime.uow() as uow:
        assert await uow.drills.of_target("deployment", "api") == []
    assert await audit_actions(runtime) == []


def _cli_env(
    runtime: Runtime, policy: ApprovalPolicy, kube: SandboxKube, tmp_path: Path
) -> dict[str, str]:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy.model_dump(mode="json")))
    return {
        "ROLLBOT_DATABASE_URL": runtime.settings.database_url,
        "ROLLBOT_EXECUTOR": "kubernetes",
        "ROLLBOT_KUBECONFIG": str(kube.write_kubeconfig(tmp_path / "cli-kc")),
        "ROLLBOT_POLICY_FILE": str(policy_file),
        "ROLLBOT_AUDIT_KEY_FILE": str(tmp_path / "audit.key"),
        "ROLLBOT_EVIDENCE_DIR": str(tmp_path / "evidence"),
        "SLACK_BOT_TOKEN": "xoxb-unused",
        "SLACK_SIGNING_SECRET": "unused",
    }


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    done = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return done.exit_code, done.output


async def test_the_readiness_gate_wants_a_recent_passing_drill_and_a_rollback_path(
    runtime: Runtime, policy: ApprovalPolicy, kube: SandboxKube, tmp_path: Path
) -> None:
    env = _cli_env(runtime, policy, kube, tmp_path)
    gate = ("readiness", "deployment/api", "-n", "prod", "--version", "v2")

    code, out = await _cli(env, *gate)
    assert code == 1, out
    assert "NO  no drill has rolled deployment/api back from v2" in out

    code, out = await _cli(env, "drill", "deployment/api", "-n", "staging", "--by", "ci")
    assert code == 0, out
    assert "passed" in out
    assert "verified in" in out

    code, out = await _cli(env, *gate, "-o", "json")
    assert code == 0, out
    answer = json.loads(out)
    assert answer["ready"] is True
    assert all(c["ok"] for c in answer["conditions"])

    live = kube.store.get("deployments", "prod", "api")
    assert live is not None
    live["spec"]["paused"] = True
    live["spec"]["revisionHistoryLimit"] = 0
    kube.store.replace("deployments", live)
    code, out = await _cli(env, *gate)
    assert code == 1
    assert "NO  `deployment/api -n prod` keeps no old ReplicaSets (revisionHistoryLimit: 0)" in out
    assert "is paused" in out
    assert sum(line.startswith("  NO ") for line in out.splitlines()) == 2

    code, out = await _cli(env, *gate, "--version", "v9")
    assert code == 1
    assert "no drill has rolled deployment/api back from v9" in out

    # the month's report counts the drill and every answer the gate gave
    code, out = await _cli(env, "report", "--month", datetime.now(UTC).strftime("%Y-%m"))
    assert code == 0, out
    assert "1 (1 passed, slowest verified in" in out
    assert "4 answers, 1 ready, 3 not ready" in out
    assert "v2 to deployment/api -n prod; v9 to deployment/api -n prod" in out


async def test_the_gate_refuses_a_drill_older_than_its_window(
    runtime: Runtime, policy: ApprovalPolicy, kube: SandboxKube, tmp_path: Path
) -> None:
    drill = await _runner(runtime, policy, kube, tmp_path).run(STAGING, ALICE)  # type: ignore[attr-defined]
    assert drill.state is DrillState.PASSED
    short = policy.model_copy(
        update={"drills": DrillPolicy(environments=("staging",), window=timedelta(seconds=1))}
    )
    env = _cli_env(runtime, short, kube, tmp_path)
    await asyncio.sleep(1.5)
    code, out = await _cli(env, "readiness", "deployment/api", "-n", "prod", "--version", "v2")
    assert code == 1
    assert f"the last passing drill of v2 ({drill.id}) is " in out
    assert "old, older than the 1.0 s the policy accepts" in out


async def test_the_gate_over_http_answers_only_with_its_token(
    runtime: Runtime, policy: ApprovalPolicy, kube: SandboxKube, tmp_path: Path
) -> None:
    base = (await runtime.serve_http()).removesuffix("/slack/events")
    query = {"target": "deployment/api", "namespace": "prod", "version": "v2"}
    good = {"Authorization": f"Bearer {GATE_TOKEN}"}
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            async with http.get(f"{base}/readiness", params=query, headers=headers) as answer:
                assert answer.status == 401
        bad = {**query, "target": "deployment/Api"}
        async with http.get(f"{base}/readiness", params=bad, headers=good) as answer:
            assert answer.status == 400
            assert "not a valid Kubernetes name" in (await answer.json())["error"]
        async with http.get(f"{base}/readiness", params=query, headers=good) as answer:
            assert answer.status == 412
            body = await answer.json()
        assert body["ready"] is False
        assert [c["name"] for c in body["conditions"] if not c["ok"]] == ["drill"]
        drill = await _runner(runtime, policy, kube, tmp_path).run(STAGING, ALICE)  # type: ignore[attr-defined]
        assert drill.state is DrillState.PASSED
        async with http.get(f"{base}/readiness", params=query, headers=good) as answer:
            assert answer.status == 200
            assert (await answer.json())["ready"] is True
    async with runtime.uow() as uow:
        ever = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
        kept = await uow.drills.answers(*ever)
    assert [a.ready for a in kept] == [False, True]  # the 401 and 400 asked nothing


async def test_slack_shows_a_targets_latest_drills(
    runtime: Runtime,
    policy: ApprovalPolicy,
    kube: SandboxKube,
    tmp_path: Path,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
) -> None:
    said = await command(runtime, driver, channel, "U0ALICE", "drills deployment/api -n staging")
    assert said.startswith("No rollback drills of `deployment/api -n staging` yet")
    runner = _runner(runtime, policy, kube, tmp_path)
    drill = await runner.run(STAGING, ALICE)  # type: ignore[attr-defined]
    said = await command(runtime, driver, channel, "U0ALICE", "drills deployment/api -n staging")
    first, line = said.splitlines()
    assert first == "*Rollback drills of `deployment/api -n staging`* (newest first)"
    assert line.startswith(f":white_check_mark: {drill.id} in staging · ")
    assert " · passed · rollback verified in " in line
    assert line.endswith("(target 5 min)")
    other = await command(runtime, driver, channel, "U0ALICE", "drills deployment/api -n prod")
    assert other.startswith("No rollback drills of `deployment/api -n prod` yet")
    # a production rollback of the service shows its last rehearsal on the card
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "5xx"')
    shown = str(card(slack, channel)["blocks"])
    assert (
        f"*Last rehearsed*\\n{drill.id} in staging, 0 min ago: passed, rollback verified in"
        in shown
    )
