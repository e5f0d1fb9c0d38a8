"""The Kubernetes executor against the sandbox cluster: kubectl's undo semantics, the
rollout-status logic, conflicts, dropped watches, broken images, paused deployments, access."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.policy import RollbackType
from bot.domain.redaction import redact
from bot.domain.request import TargetRef
from bot.ports import ExecutionError, UnknownTargetError
from integrations.kubernetes.deployment import KubernetesExecutor
from integrations.kubernetes.rollout import AccessDeniedError
from sandbox.kube.server import SandboxKube
from tests.helpers import unfenced
from tests.unit.domain.factories import make_request

WEB = TargetRef(kind="deployment", name="web", namespace="prod")


def deployment(image: str, *, secret_env: bool = False) -> dict[str, Any]:
    env = [
        {"name": "DB_PASSWORD", "value": "hunter2"},
        {"name": "DATABASE_URL", "value": "postgres://web:Tr0ub4dor@db:5432/web"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    # what `kubectl apply` leaves: the whole manifest, env values included, as one string
    applied = json.dumps({"spec": {"template": {"spec": {"containers": [{"env": env}]}}}})
    annotations = (
        {"kubectl.kubernetes.io/last-applied-configuration": applied} if secret_env else {}
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "prod", "annotations": annotations},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": image, **({"env": env} if secret_env else {})}
                    ]
                },
            },
        },
    }


@pytest.fixture
async def kube() -> AsyncIterator[SandboxKube]:
    cluster = SandboxKube(rollout_seconds=0.2)
    await cluster.start()
    cluster.store.create(
        "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}
    )
    yield cluster
    await cluster.stop()


async def _release(kube: SandboxKube, *images: str, secret_env: bool = False) -> None:
    """Create web at the first image, then roll out each next one, like `kubectl set image`."""
    kube.store.create("deployments", deployment(images[0], secret_env=secret_env))
    await kube.controller.idle()
    for image in images[1:]:
        current = kube.store.get("deployments", "prod", "web")
        assert current is not None
        current["spec"]["template"]["spec"]["containers"][0]["image"] = image
        kube.store.replace("deployments", current)
        await kube.controller.idle()


@pytest.fixture
def executor(kube: SandboxKube, tmp_path: Path) -> KubernetesExecutor:
    return KubernetesExecutor(
        kubeconfig=kube.write_kubeconfig(tmp_path / "kubeconfig"), rollout_timeout=20
    )


def _rollback_request(to_revision: str | None) -> Any:
    return make_request(RollbackType.DEPLOYMENT_LAST_VERSION).model_copy(
        update={"target": WEB, "to_revision": to_revision, "baseline_revision": None}
    )


async def _run(executor: KubernetesExecutor, to_revision: str | None) -> tuple[Any, list[str]]:
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    return await executor.execute(_rollback_request(to_revision), progress, unfenced), lines


def _revisions(kube: SandboxKube) -> dict[str, str]:
    return {
        rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs["metadata"]["annotations"][
            "deployment.kubernetes.io/revision"
        ]
        for rs in kube.store.list("replicasets", "prod")
    }


async def test_preflight_shows_what_changes(
    kube: SandboxKube, executor: KubernetesExecutor
) -> None:
    await _release(kube, "web:1.2", "web:1.3")
    pre = await executor.preflight(WEB, None)
    assert (pre.live_revision, pre.to_revision) == ("2", "1")
    assert pre.changes == ("image web:1.3 → web:1.2",)
    assert await executor.live_revision(WEB) == "2"


@pytest.mark.parametrize(
    ("setup", "to", "message"),
    [
        ("missing", None, "`deployment/web -n prod` was not found in the cluster"),
        ("one", None, "no rollout history found"),
        ("two", "7", "unable to find specified revision 7 in history"),
        ("two", "2", "already runs the template of revision 2"),
        ("paused", None, "is paused; resume it before rolling back"),
    ],
)
async def test_preflight_refusals(
    kube: SandboxKube, executor: KubernetesExecutor, setup: str, to: str | None, message: str
) -> None:
    if setup != "missing":
        await _release(kube, *(["web:1.2"] if setup == "one" else ["web:1.2", "web:1.3"]))
    if setup == "paused":
        d = kube.store.get("deployments", "prod", "web")
        d["spec"]["paused"] = True  # type: ignore[index]
        kube.store.replace("deployments", d)  # type: ignore[arg-type]
    with pytest.raises(UnknownTargetError, match=message):
        await executor.preflight(WEB, to)


async def test_preflight_checks_access(kube: SandboxKube, executor: KubernetesExecutor) -> None:
    await _release(kube, "web:1.2", "web:1.3")
    kube.faults.deny_access = True
    with pytest.raises(AccessDeniedError, match="may not patch"):
        await executor.preflight(WEB, None)


async def test_rollback_to_previous_matches_kubectl(
    kube: SandboxKube, executor: KubernetesExecutor
) -> None:
    await _release(kube, "web:1.2", "web:1.3")
    result, lines = await _run(executor, None)
    assert (result.from_revision, result.to_revision) == ("2", "3")
    assert _revisions(kube) == {
        "web:1.2": "3",
        "web:1.3": "2",
    }  # 1,2 -> undo -> 3, the old RS reused
    live = kube.store.get("deployments", "prod", "web")
    assert live["spec"]["template"]["metadata"]["labels"] == {"app": "web"}  # type: ignore[index]  # hash stripped
    assert lines[-2:] == [
        'deployment "web" successfully rolled out',
        "live now: revision 3 (was 2), image web:1.2",
    ]
    assert any("new replicas have been updated" in line for line in lines)


async def test_rollback_to_a_chosen_revision(
    kube: SandboxKube, executor: KubernetesExecutor
) -> None:
    await _release(kube, "web:1.1", "web:1.2", "web:1.3")
    result, _ = await _run(executor, "1")
    assert result.to_revision == "4"
    assert (
        kube.store.get("deployments", "prod", "web")["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]
        == "web:1.1"
    )  # type: ignore[index]


async def test_a_conflicting_patch_is_read_again_and_retried(
    kube: SandboxKube, executor: KubernetesExecutor
) -> None:
    await _release(kube, "web:1.2", "web:1.3")
    kube.faults.conflicts_on_patch = 2
    result, _ = await _run(executor, None)
    assert result.to_revision == "3"
    assert len(kube.store.list("replicasets", "prod")) == 2  # never a second rollback


async def test_a_dropped_watch_is_resumed(kube: SandboxKube, executor: KubernetesExecutor) -> None:
    await _release(kube, "web:1.2", "web:1.3")
    kube.faults.drop_next_watch = True
    result, lines = await _run(executor, None)
    assert result.to_revision == "3"
    assert lines[-2] == 'deployment "web" successfully rolled out'


async def test_a_rollback_that_never_becomes_ready_fails_with_the_reason(
    kube: SandboxKube, executor: KubernetesExecutor
) -> None:
    await _release(kube, "web:1.2-broken", "web:1.3")
    with pytest.raises(
        ExecutionError, match="exceeded its progress deadline \\(ProgressDeadlineExceeded\\)"
    ):
        await _run(executor, None)


async def test_capture_holds_no_secrets(kube: SandboxKube, executor: KubernetesExecutor) -> None:
    await _release(kube, "web:1.2", "web:1.3", secret_env=True)
    captured = json.dumps(await executor.capture(WEB))
    assert "hunter2" not in captured
    assert "Tr0ub4dor" not in captured  # in a connection string, and in last-applied
    assert '"value": "<redacted>"' in captured
    assert '"revision": "2"' in captured
    assert redact({"name": "LOG_LEVEL", "value": "debug"}) == {
        "name": "LOG_LEVEL",
        "value": "debug",
    }


async def test_a_flaky_api_server_is_retried_on_reads(
    kube: SandboxKube, executor: KubernetesExecutor
) -> None:
    await _release(kube, "web:1.2", "web:1.3")
    kube.faults.error_rate = 0.3  # fixed random: some reads fail, retries get through
    kube.faults.latency = 0.01
    pre = await executor.preflight(WEB, None)
    assert pre.to_revision == "1"


async def test_a_failing_api_server_is_a_clear_refusal_before_anything_changes(
    kube: SandboxKube, executor: KubernetesExecutor
) -> None:
    from integrations.kubernetes.rollout import ClusterError

    await _release(kube, "web:1.2", "web:1.3")
    kube.faults.error_rate = 1.0
    with pytest.raises(
        ClusterError, match="the Kubernetes API failed while reading deployment/web -n prod \\(500"
    ):
        await executor.preflight(WEB, None)
    with pytest.raises(ExecutionError, match="nothing was changed"):
        await _run(executor, None)
    kube.faults.error_rate = 0.0
    assert _revisions(kube) == {"web:1.2": "1", "web:1.3": "2"}


async def test_each_service_can_live_in_its_own_cluster(kube: SandboxKube, tmp_path: Path) -> None:
    other = SandboxKube(rollout_seconds=0.2)
    await other.start()
    try:
        other.store.create(
            "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}
        )
        await _release(other, "web:2.0", "web:2.1")
        await _release(kube, "web:1.2", "web:1.3")
        both = json.loads(kube.write_kubeconfig(tmp_path / "a", context="east").read_text())
        west = json.loads(other.write_kubeconfig(tmp_path / "b", context="west").read_text())
        for key in ("clusters", "contexts"):
            both[key] += west[key]
        (tmp_path / "both").write_text(json.dumps(both))
        executor = KubernetesExecutor(
            kubeconfig=tmp_path / "both", context="east", contexts={"web": "west"}
        )
        pre = await executor.preflight(WEB, None)
        assert pre.changes == ("image web:2.1 → web:2.0",)  # the west cluster, as the policy says
        api = TargetRef(kind="deployment", name="api", namespace="prod")
        with pytest.raises(UnknownTargetError, match="not found"):
            await executor.preflight(
                api, None
            )  # api has no context of its own: east, where it is absent
    finally:
        await other.stop()
