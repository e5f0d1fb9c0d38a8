"""Jobs on the sandbox cluster, judged by the real kubectl: a Job runs its container's command
for real (in the folder standing in for its image, with a Secret's value in its environment),
`kubectl wait` sees it complete or fail with the Job controller's reasons, `kubectl logs`
reads what the process printed, and the API server refuses a Job it would refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.kube.server import SandboxKube
from tests.contract.kubectl import Kubectl, require_kubectl

require_kubectl()

pytestmark = pytest.mark.kubectl


def _job(name: str, script: str, *, image: str = "tools:1", restart: str = "Never") -> str:
    container = {
        "name": "run",
        "image": image,
        "command": ["sh", "-c", script],
        "env": [{"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}],
    }
    return json.dumps(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name},
            "spec": {
                "backoffLimit": 1,
                "activeDeadlineSeconds": 20,
                "template": {"spec": {"restartPolicy": restart, "containers": [container]}},
            },
        }
    )


@pytest.fixture
def image(kube: SandboxKube, tmp_path: Path) -> Path:
    folder = tmp_path / "tools-image"
    folder.mkdir()
    (folder / "motd").write_text("from the image\n")
    kube.images["tools:1"] = folder
    kube.put_secret("default", "db", {"url": "postgresql://app@db/shop"})
    return folder


async def test_a_job_runs_its_command_and_completes(kubectl: Kubectl, image: Path) -> None:
    await kubectl.ok("create", "-f", "-", stdin=_job("hello", "cat motd; echo $DB"))
    await kubectl.ok("wait", "--for=condition=complete", "job/hello", "--timeout=30s")
    assert await kubectl.ok("logs", "job/hello") == "from the image\npostgresql://app@db/shop\n"
    succeeded = await kubectl.ok("get", "job", "hello", "-o", "jsonpath={.status.succeeded}")
    assert succeeded == "1"
    pods = await kubectl.ok(
        "get", "pods", "-l", "job-name=hello", "-o", "jsonpath={.items[*].status.phase}"
    )
    assert pods == "Succeeded"


async def test_a_failing_job_is_retried_to_its_backoff_limit(kubectl: Kubectl, image: Path) -> None:
    await kubectl.ok("create", "-f", "-", stdin=_job("broken", "echo nope; exit 2"))
    await kubectl.ok("wait", "--for=condition=failed", "job/broken", "--timeout=30s")
    reason = await kubectl.ok(
        "get", "job", "broken", "-o", "jsonpath={.status.conditions[0].reason}"
    )
    assert reason == "BackoffLimitExceeded"
    pods = await kubectl.ok("get", "pods", "-l", "job-name=broken", "-o", "name")
    assert len(pods.split()) == 2  # the first try and one retry (backoffLimit: 1)
    assert await kubectl.ok("logs", "job/broken") == "nope\n"


async def test_an_image_that_cannot_be_pulled_fails_at_the_deadline(
    kubectl: Kubectl, kube: SandboxKube, image: Path
) -> None:
    body = json.loads(_job("nowhere", "true", image="tools:missing"))
    body["spec"]["activeDeadlineSeconds"] = 1
    await kubectl.ok("create", "-f", "-", stdin=json.dumps(body))
    waiting = await kubectl.ok(
        "get",
        "pods",
        "-l",
        "job-name=nowhere",
        "-o",
        "jsonpath={.items[0].status.containerStatuses[0].state.waiting.reason}",
    )
    assert waiting == "ErrImagePull"
    await kubectl.ok("wait", "--for=condition=failed", "job/nowhere", "--timeout=30s")
    reason = await kubectl.ok(
        "get", "job", "nowhere", "-o", "jsonpath={.status.conditions[0].reason}"
    )
    assert reason == "DeadlineExceeded"


async def test_the_api_server_refuses_a_job_that_restarts_always(
    kubectl: Kubectl, image: Path
) -> None:
    refused = await kubectl("create", "-f", "-", stdin=_job("loop", "true", restart="Always"))
    assert refused.code == 1
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Always"' in refused.err
