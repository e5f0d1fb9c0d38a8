"""The sandbox cluster behind the real Kubernetes executor, for end-to-end tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from integrations.kubernetes.deployment import KubernetesExecutor
from sandbox.executor import ScriptedExecutor
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube


@contextlib.asynccontextmanager
async def cluster_with(app: str, images: tuple[str, ...]) -> AsyncIterator[SandboxKube]:
    """A running sandbox cluster whose `app` Deployment in prod has had these releases."""
    cluster = SandboxKube(rollout_seconds=0.3)
    await cluster.start()
    try:
        await release_app(cluster, app, images)
        yield cluster
    finally:
        await cluster.stop()


def with_kubernetes(scripted: ScriptedExecutor, kube: SandboxKube, folder: Path) -> dict[str, Any]:
    """Deployments rolled back by the real executor on the sandbox cluster, the rest scripted."""
    real = KubernetesExecutor(kubeconfig=kube.write_kubeconfig(folder / "kc"), rollout_timeout=30)
    return dict.fromkeys(("configmap", "codedeploy", "flag"), scripted) | {"deployment": real}


def image_of(kube: SandboxKube, app: str) -> str:
    live = kube.store.get("deployments", "prod", app)
    assert live is not None
    return str(live["spec"]["template"]["spec"]["containers"][0]["image"])
