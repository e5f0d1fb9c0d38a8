"""ConfigMap rollbacks from the versions rollbot keeps, against the sandbox cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.audit.keys import AuditSigner
from bot.domain.policy import RollbackType
from bot.domain.redaction import redact
from bot.domain.request import TargetRef
from bot.ports import UnknownTargetError
from bot.store import migrate
from bot.store.config_versions import StoredConfigVersions
from bot.store.engine import create_engine
from bot.store.uow import UnitOfWorkFactory
from integrations.kubernetes.configmap import KubernetesConfigMapExecutor, changed_keys
from integrations.kubernetes.deployment import KubernetesExecutor
from sandbox.kube.controller import default_deployment
from sandbox.kube.server import SandboxKube
from tests.conftest import FakeClock
from tests.helpers import unfenced
from tests.unit.domain.factories import make_request

CONFIG = TargetRef(kind="configmap", name="api-config", namespace="prod")


@pytest.fixture
async def kube() -> AsyncIterator[SandboxKube]:
    cluster = SandboxKube()
    await cluster.start()
    cluster.store.create(
        "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}
    )
    cluster.store.create(
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "api-config", "namespace": "prod"},
            "data": {
                "LOG_LEVEL": "info",
                "OAUTH_ISSUER": "https://id.example",
                "DB_PASSWORD": "hunter2",
            },
        },
    )
    yield cluster
    await cluster.stop()


@pytest.fixture
async def configmaps(
    kube: SandboxKube, database_url: str, signer: AuditSigner, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[KubernetesConfigMapExecutor]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    versions = StoredConfigVersions(UnitOfWorkFactory(engine, signer), clock)
    cluster = KubernetesExecutor(kubeconfig=kube.write_kubeconfig(tmp_path / "kubeconfig"))
    yield KubernetesConfigMapExecutor(cluster, versions)
    await engine.dispose()


def _edit(kube: SandboxKube, **data: str) -> None:
    live = kube.store.get("configmaps", "prod", "api-config")
    assert live is not None
    live["data"].update(data)
    kube.store.replace("configmaps", live)


async def test_a_first_sight_has_nothing_to_roll_back_to(
    configmaps: KubernetesConfigMapExecutor,
) -> None:
    with pytest.raises(UnknownTargetError, match="rollbot has seen no earlier version"):
        await configmaps.preflight(CONFIG, None)
    assert await configmaps.live_revision(CONFIG) == "1"  # seen once, still version 1


async def test_restore_the_previous_version_and_record_the_changed_keys(
    kube: SandboxKube, configmaps: KubernetesConfigMapExecutor
) -> None:
    assert await configmaps.live_revision(CONFIG) == "1"
    _edit(kube, OAUTH_ISSUER="https://broken.example", LOG_LEVEL="debug")
    pre = await configmaps.preflight(CONFIG, None)
    assert (pre.live_revision, pre.to_revision) == ("2", "1")
    assert pre.changes == ("key LOG_LEVEL", "key OAUTH_ISSUER")

    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    request = make_request(RollbackType.CONFIGURATION).model_copy(
        update={"target": CONFIG, "to_revision": "1"}
    )
    result = await configmaps.execute(request, progress, unfenced)
    assert (result.from_revision, result.to_revision) == ("2", "3")
    assert (
        kube.store.get("configmaps", "prod", "api-config")["data"]["OAUTH_ISSUER"]
        == "https://id.example"
    )  # type: ignore[index]
    assert "changed keys: LOG_LEVEL, OAUTH_ISSUER" in lines[0]
    with pytest.raises(UnknownTargetError, match="already holds the content of version 1"):
        await configmaps.preflight(CONFIG, "1")
    with pytest.raises(UnknownTargetError, match="rollbot has no version 9"):
        await configmaps.preflight(CONFIG, "9")
    # The content names the configuration, not rollbot's numbering: the next rollback's
    # destination (version 2) is the content this one rolled back from, so rollbot can say so.
    again = await configmaps.preflight(CONFIG, None)
    assert again.to_identity == pre.live_identity
    assert again.live_identity == pre.to_identity
    assert pre.live_identity is not None
    assert pre.live_identity.startswith("configuration ")


async def test_capture_redacts_credential_like_keys(
    configmaps: KubernetesConfigMapExecutor,
) -> None:
    captured = redact(await configmaps.capture(CONFIG), salt="RB-1")
    # key names stay, every value becomes a salted hash: equal values stay equal in a pack
    assert set(captured["data"]) >= {"DB_PASSWORD", "LOG_LEVEL"}
    assert all(str(v).startswith("hmac-sha256:") for v in captured["data"].values())
    assert captured["data"]["LOG_LEVEL"] == redact({"data": {"x": "info"}}, "RB-1")["data"]["x"]
    assert captured["data"]["LOG_LEVEL"] != redact({"data": {"x": "info"}}, "RB-2")["data"]["x"]


def test_changed_keys() -> None:
    assert changed_keys({"a": "1", "b": "2"}, {"b": "3", "c": "4"}) == ["a", "b", "c"]


async def _deployment(kube: SandboxKube, name: str, pod_spec: dict[str, object]) -> None:
    created = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "prod"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
        },
    }
    default_deployment(created)
    kube.store.create("deployments", created)
    await kube.controller.idle()


async def test_a_restore_restarts_the_deployments_that_read_the_configmap(
    kube: SandboxKube, configmaps: KubernetesConfigMapExecutor
) -> None:
    envfrom = {
        "containers": [
            {"name": "api", "image": "api:1", "envFrom": [{"configMapRef": {"name": "api-config"}}]}
        ]
    }
    mounted = {
        "containers": [{"name": "worker", "image": "worker:1"}],
        "volumes": [{"name": "cfg", "configMap": {"name": "api-config"}}],
    }
    keyref = {
        "containers": [
            {
                "name": "cron",
                "image": "cron:1",
                "env": [
                    {
                        "name": "L",
                        "valueFrom": {
                            "configMapKeyRef": {"name": "api-config", "key": "LOG_LEVEL"}
                        },
                    }
                ],
            }
        ]
    }
    other = {
        "containers": [
            {"name": "web", "image": "web:1", "envFrom": [{"configMapRef": {"name": "web-config"}}]}
        ]
    }
    for name, spec in (("api", envfrom), ("worker", mounted), ("cron", keyref), ("web", other)):
        await _deployment(kube, name, spec)
    assert await configmaps.live_revision(CONFIG) == "1"
    _edit(kube, LOG_LEVEL="debug")
    pre = await configmaps.preflight(CONFIG, None)
    assert pre.summary.endswith(
        "then restarts deployment/api, deployment/cron, deployment/worker, which read it"
    )
    assert "restarts deployment/api -n prod" in pre.changes

    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    request = make_request(RollbackType.CONFIGURATION).model_copy(
        update={"target": CONFIG, "to_revision": "1"}
    )
    await configmaps.execute(request, progress, unfenced)
    for name in ("api", "worker", "cron"):
        live = kube.store.get("deployments", "prod", name)
        assert live is not None
        assert (
            "kubectl.kubernetes.io/restartedAt"
            in live["spec"]["template"]["metadata"]["annotations"]
        )
        assert live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    web = kube.store.get("deployments", "prod", "web")
    assert web is not None
    assert web["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"  # untouched
    assert (
        "restarted `deployment/api -n prod`, which reads `configmap/api-config -n prod`; watching"
        in lines
    )
