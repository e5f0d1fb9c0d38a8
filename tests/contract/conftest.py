"""The contract tests' sandbox cluster and the real kubectl pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.kube.server import SandboxKube
from tests.contract.kubectl import Kubectl


@pytest.fixture
async def kube() -> AsyncIterator[SandboxKube]:
    cluster = SandboxKube(rollout_seconds=0.3)
    await cluster.start()
    yield cluster
    await cluster.stop()


@pytest.fixture
def kubectl(kube: SandboxKube, tmp_path: Path) -> Kubectl:
    return Kubectl(kube, tmp_path)
