"""The sandbox deployment controller keeps only `revisionHistoryLimit` old ReplicaSets once a
rollout completes, as the real one does, so `kubectl rollout history` and `undo --to-revision`
see the same history they would on a cluster."""

from __future__ import annotations

import pytest

from tests.contract.kubectl import DEPLOYMENT, Kubectl, require_kubectl

require_kubectl()

pytestmark = pytest.mark.kubectl


async def test_old_replicasets_past_the_limit_are_deleted_oldest_first(kubectl: Kubectl) -> None:
    limited = DEPLOYMENT.replace("  replicas: 3\n", "  replicas: 3\n  revisionHistoryLimit: 1\n")
    await kubectl.ok("create", "-f", "-", stdin=limited)
    await kubectl.ok("rollout", "status", "deployment/web", "--timeout=30s")
    for image in ("nginx:1.27", "nginx:1.28", "nginx:1.29"):
        await kubectl.ok("set", "image", "deployment/web", f"nginx={image}")
        await kubectl.ok("rollout", "status", "deployment/web", "--timeout=30s")
    names = (await kubectl.ok("get", "rs", "-o", "name")).split()
    assert len(names) == 2  # the current one and one old one
    history = await kubectl.ok("rollout", "history", "deployment/web")
    revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
    assert revisions == ["3", "4"]
    refused = await kubectl("rollout", "undo", "deployment/web", "--to-revision=2")
    assert refused.code == 1
    assert "unable to find specified revision 2 in history" in refused.err
