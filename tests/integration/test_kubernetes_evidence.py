"""The Kubernetes executor's readable evidence against the sandbox cluster: logs capped at the
policy's lines and bytes with the cut stated, the pods of the live revision only, a sidecar read
as its own container, and the describe output's fields from the capture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.request import TargetRef
from bot.ports import CaptureMoment, EvidenceWindow
from integrations.kubernetes.deployment import KubernetesExecutor
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube

API = TargetRef(kind="deployment", name="api", namespace="prod")


@pytest.fixture
async def kube() -> AsyncIterator[SandboxKube]:
    cluster = SandboxKube(rollout_seconds=0.1)
    await cluster.start()
    await release_app(cluster, "api", ("api:1.2.2", "api:1.3.0"))
    yield cluster
    await cluster.stop()


@pytest.fixture
def executor(kube: SandboxKube, tmp_path: Path) -> KubernetesExecutor:
    return KubernetesExecutor(kubeconfig=kube.write_kubeconfig(tmp_path / "kc"))


def _window(lines: int = 1000, size: int = 512 * 1024) -> EvidenceWindow:
    since = datetime.now(UTC) - timedelta(hours=1)
    return EvidenceWindow(CaptureMoment.BEFORE, lines, size, since)


async def test_logs_are_cut_at_the_policys_lines_and_say_so(
    kube: SandboxKube, executor: KubernetesExecutor
) -> None:
    kube.controller.output.prints("api:1.3.0", *(f"request {i}" for i in range(50)))
    captured = await executor.capture(API)
    got = await executor.readable(API, captured, _window(lines=5))
    logs = {n: t for n, t in got.files.items() if n.startswith("logs-before-rollback/")}
    assert len(logs) == 3  # the live revision's three pods, not the old ReplicaSet's
    for text in logs.values():
        lines = text.splitlines()
        assert "# the last 5 lines; earlier lines were not captured" in lines
        assert [line.split(" ", 1)[1] for line in lines[-5:]] == [
            f"request {i}" for i in range(45, 50)
        ]
    assert got.gaps == ()


async def test_logs_are_cut_at_the_policys_bytes_and_say_so(
    kube: SandboxKube, executor: KubernetesExecutor
) -> None:
    kube.controller.output.prints("api:1.3.0", "x" * 4000)
    captured = await executor.capture(API)
    got = await executor.readable(API, captured, _window(size=1024))
    text = next(t for n, t in got.files.items() if n.startswith("logs-before-rollback/"))
    assert "# cut at 1024 bytes; the rest was not captured" in text
    assert len(text.encode()) < 1024 + 400  # the cut and the headings, no more


async def test_each_container_is_read_and_a_missing_one_is_a_gap(
    kube: SandboxKube, executor: KubernetesExecutor
) -> None:
    live = kube.store.get("deployments", "prod", "api")
    assert live is not None
    live["spec"]["template"]["spec"]["containers"].append({"name": "proxy", "image": "envoy:1.31"})
    kube.store.replace("deployments", live)
    await kube.controller.idle()
    kube.controller.output.prints("envoy:1.31", "upstream connect error")
    captured = await executor.capture(API)
    got = await executor.readable(API, captured, _window())
    text = next(t for n, t in got.files.items() if n.startswith("logs-before-rollback/"))
    assert "==> container api <==" in text
    assert "==> container proxy <==" in text
    assert text.index("upstream connect error") > text.index("==> container proxy <==")
    # a pod still starting has no log yet: the kubelet's 400 is named, nothing stops
    pod = captured["pods"][0]
    pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "ContainerCreating"}}
    kube.store.replace("pods", {k: v for k, v in pod.items()})
    again = await executor.readable(API, await executor.capture(API), _window())
    assert any("is waiting to start: ContainerCreating" in gap for gap in again.gaps)
