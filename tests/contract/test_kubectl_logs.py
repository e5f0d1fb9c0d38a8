"""`kubectl logs` against the sandbox cluster: the real kubectl reads what a pod's container
printed, the previous run of one that crashed, and gets the API server's own refusals."""

from __future__ import annotations

import pytest

from sandbox.kube.server import SandboxKube
from tests.contract.kubectl import Kubectl, require_kubectl

require_kubectl()

pytestmark = pytest.mark.kubectl


def _pod(kube: SandboxKube) -> str:
    name: str = kube.store.list("pods", "default", "app=web")[0]["metadata"]["name"]
    return name


async def test_logs_tail_and_timestamps(kubectl: Kubectl, kube: SandboxKube) -> None:
    kube.controller.output.prints("nginx:1.26", "GET /healthz 200", "GET /checkout 500")
    await kubectl.apply_web()
    pod = _pod(kube)
    assert await kubectl.ok("logs", pod, "--tail=2") == "GET /healthz 200\nGET /checkout 500\n"
    stamped = (await kubectl.ok("logs", pod, "--timestamps")).splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == [
        "starting nginx:1.26",
        "listening on :8080",
        "GET /healthz 200",
        "GET /checkout 500",
    ]
    assert stamped[0].split(" ")[0].endswith("Z")


async def test_previous_run_of_a_crashed_container(kubectl: Kubectl, kube: SandboxKube) -> None:
    await kubectl.apply_web()
    pod = _pod(kube)
    refused = await kubectl("logs", pod, "--previous")
    assert refused.code == 1
    assert f'previous terminated container "nginx" in pod "{pod}" not found' in refused.err
    kube.crash("nginx:1.26", "panic: nil map")
    assert (await kubectl.ok("logs", pod, "--previous")).splitlines()[-1] == "panic: nil map"


async def test_unknown_container_and_unreachable_kubelet(
    kubectl: Kubectl, kube: SandboxKube
) -> None:
    await kubectl.apply_web()
    pod = _pod(kube)
    wrong = await kubectl("logs", pod, "-c", "sidecar")
    assert wrong.code == 1
    assert f"container sidecar is not valid for pod {pod}" in wrong.err
    kube.controller.output.kubelet_unreachable = True
    down = await kubectl("logs", pod)
    assert down.code == 1
    assert "connect: connection refused" in down.err
