"""The runbook's evidence of a Deployment rollback, end to end on the sandbox cluster with the
real Kubernetes executor: the logs of the version that failed (its crashed runs included, a
secret in them redacted), describe output and pod YAML before and after that say what the JSON
captures say, the incident window's events in both forms, and a log read that fails noted
while the rollback completes."""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.request import RequestState
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.kube.server import SandboxKube
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.cluster import cluster_with, image_of, with_kubernetes
from tests.e2e.workflow import click, command

API = target_from("deployment/api", "prod")
PLANTED = "postgres://api:Tr0ub4dor-and-3@db.prod:5432/orders"


@pytest.fixture
async def kube() -> AsyncIterator[SandboxKube]:
    async with cluster_with("api", ("api:1.2.2", "api:1.3.0")) as cluster:
        # what the bad release printed before anyone rolled it back
        cluster.controller.output.prints(
            "api:1.3.0", "GET /checkout 500 (nil pointer in cart)", f"connecting to {PLANTED}"
        )
        cluster.crash("api:1.3.0", "panic: runtime error: invalid memory address")
        yield cluster


@pytest.fixture
def executors(executor: ScriptedExecutor, kube: SandboxKube, tmp_path: Path) -> dict[str, Any]:
    return with_kubernetes(executor, kube, tmp_path)


def _pack(runtime: Runtime) -> dict[str, str]:
    [path] = list(runtime.settings.evidence_dir.glob("*/evidence-*.tar.gz"))
    with tarfile.open(path) as tar:
        return {
            m.name.split("/", 1)[1]: tar.extractfile(m).read().decode()  # type: ignore[union-attr]
            for m in tar.getmembers()
        }


async def _roll_back(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "5xx"')
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    [request] = await runtime.queries.history(API)
    assert request.state is RequestState.COMPLETED


def _field(text: str, name: str) -> str:
    found = re.search(rf"^{name}:\s+(.*)$", text, re.M)
    assert found, f"{name} not in the describe output"
    return found.group(1)


async def test_the_pack_holds_the_bad_versions_logs_and_reads_like_the_runbook(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, kube: SandboxKube
) -> None:
    await _roll_back(runtime, driver, slack, channel)
    assert image_of(kube, "api") == "api:1.2.2"
    files = _pack(runtime)
    before, after = json.loads(files["before.json"]), json.loads(files["after.json"])
    bad_pods = [
        p["metadata"]["name"]
        for p in before["pods"]
        if p["spec"]["containers"][0]["image"] == "api:1.3.0"
    ]
    assert len(bad_pods) == 3
    logs = {n: t for n, t in files.items() if n.startswith("logs-before-rollback/")}
    assert sorted(logs) == sorted(f"logs-before-rollback/{p}.txt" for p in bad_pods)
    for text in logs.values():
        assert "GET /checkout 500 (nil pointer in cart)" in text
        assert "==> container api, previous run <==" in text  # the crashed run's last words
        assert "panic: runtime error: invalid memory address" in text
        assert "Tr0ub4dor" not in text
        assert "postgres://api:<redacted>@db.prod:5432/orders" in text
    assert not any("Tr0ub4dor" in t for t in files.values())
    restored = [n for n in files if n.startswith("logs-after-rollback/")]
    assert len(restored) == 3
    assert all("starting api:1.2.2" in files[n] for n in restored)

    # the describe output says what the JSON capture says
    for moment, captured in (("before", before), ("after", after)):
        text = files[f"deployment-{moment}.txt"]
        spec, status = captured["deployment"]["spec"], captured["deployment"]["status"]
        assert _field(text, "Replicas") == (
            f"{spec['replicas']} desired | {status['updatedReplicas']} updated | "
            f"{status['replicas']} total | {status['availableReplicas']} available | "
            f"{status['unavailableReplicas']} unavailable"
        )
        assert _field(text, "    Image") == captured["images"][0]
        live_rs = next(
            rs["metadata"]["name"]
            for rs in captured["replicasets"]
            if rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            == captured["revision"]
        )
        assert _field(text, "NewReplicaSet").startswith(live_rs)
        assert yaml.safe_load(files[f"pods-{moment}.yaml"])["items"] == captured["pods"]
    assert _field(files["deployment-before.txt"], "    Image") == "api:1.3.0"

    # the incident window's events, both forms, the ReplicaSets' and pods' included
    events = json.loads(files["events.json"])
    kinds = {e["involvedObject"]["kind"] for e in events}
    assert kinds == {"Deployment", "ReplicaSet"}
    table = files["events.txt"].splitlines()
    assert table[0].split() == ["LAST", "SEEN", "(UTC)", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert len(table) == len(events) + 1
    assert any("SuccessfulCreate" in row and "replicaset/api-" in row for row in table)
    # the diff shows what the rollback changed, not what one answer spells out and another omits
    changed = [
        line
        for line in files["diff.txt"].splitlines()
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert '-              "image": "api:1.3.0",' in changed
    assert not [line for line in changed if "progressDeadlineSeconds" in line or ": null" in line]
    manifest = json.loads(files["manifest.json"])
    assert manifest["capture_gaps"] == []
    assert "logs-before-rollback/" + bad_pods[0] + ".txt" in manifest["files"]


async def test_a_failed_log_read_is_noted_and_the_rollback_completes(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, kube: SandboxKube
) -> None:
    kube.controller.output.kubelet_unreachable = True
    await _roll_back(runtime, driver, slack, channel)
    assert image_of(kube, "api") == "api:1.2.2"
    files = _pack(runtime)
    gaps = json.loads(files["manifest.json"])["capture_gaps"]
    # three bad pods (current and previous run each) before, three restored pods after
    assert len(gaps) == 9
    assert all("could not be read: 500" in g and "connection refused" in g for g in gaps)
    logs = [t for n, t in files.items() if n.startswith("logs-before-rollback/")]
    assert len(logs) == 3
    assert all("# not captured: 500" in t for t in logs)
    assert "deployment-before.txt" in files  # the rest of the evidence is there
