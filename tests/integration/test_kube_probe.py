"""/readyz's Kubernetes part: GET /version answered by the API server, or one short line saying
why not (never urllib3's three-times-wrapped exception text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.request import TargetRef
from integrations.kubernetes.access import ApiServerUnreachableError, api_server_version
from integrations.kubernetes.deployment import KubernetesExecutor
from sandbox.kube.server import SandboxKube

DEFAULT = TargetRef(kind="deployment", name="-")


async def test_the_api_server_answers_with_its_version_then_is_named_when_down(
    tmp_path: Path,
) -> None:
    kube = SandboxKube()
    await kube.start()
    executor = KubernetesExecutor(kubeconfig=kube.write_kubeconfig(tmp_path / "kubeconfig"))
    api = executor.api_for(DEFAULT)
    try:
        assert await api_server_version(api, 5) == "Kubernetes v1.32.0-sandbox"
    finally:
        await kube.stop()
    with pytest.raises(ApiServerUnreachableError) as down:
        await api_server_version(api, 5)
    assert str(down.value) == f"cannot reach the API server at {kube.url}: connection refused"
