"""Twin deployments with the same history: one rolled back by the real `kubectl rollout undo`,
the other by rollbot. Both must end with the same annotations, the same pod template and the same
`kubectl rollout history`; this is what backs README's "exactly as kubectl rollout undo does".

The history includes what trips a hand-written undo: change-causes set with `kubectl annotate`
after the release (the controller re-syncs them onto the current ReplicaSet) and an annotation
only the latest, bad revision carries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.domain.policy import RollbackType
from bot.domain.request import TargetRef
from integrations.kubernetes.deployment import KubernetesExecutor
from sandbox.kube.server import SandboxKube
from tests.contract.kubectl import Kubectl, require_kubectl
from tests.helpers import unfenced
from tests.unit.domain.factories import make_request

require_kubectl()
pytestmark = pytest.mark.kubectl

TWINS = ("web-kubectl", "web-rollbot")
REVISION = "deployment.kubernetes.io/revision"


def _manifest(name: str) -> str:
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "annotations": {"kubernetes.io/change-cause": "rev1: web:1", "team": "payments"},
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "web", "image": "web:1"}]},
                },
            },
        }
    )


async def _release_history(kubectl: Kubectl, kube: SandboxKube, name: str) -> None:
    """Three releases the way teams record them: set the image, then annotate the cause."""
    await kubectl.ok("create", "-f", "-", stdin=_manifest(name))
    await kubectl.ok("rollout", "status", f"deployment/{name}", "--timeout=30s")
    for n, extra in ((2, ()), (3, ("canary.example.com/weight=10",))):
        await kubectl.ok("set", "image", f"deployment/{name}", f"web=web:{n}")
        await kubectl.ok("rollout", "status", f"deployment/{name}", "--timeout=30s")
        await kubectl.ok(
            "annotate",
            "--overwrite",
            f"deployment/{name}",
            f"kubernetes.io/change-cause=rev{n}: web:{n}",
            *extra,
        )
        await kube.controller.idle()


async def _history(kubectl: Kubectl, name: str) -> list[str]:
    """`kubectl rollout history` without its first line (which names the deployment)."""
    out = await kubectl.ok("rollout", "history", f"deployment/{name}")
    return [line.rstrip() for line in out.splitlines()[1:] if line.strip()]


def _live(kube: SandboxKube, name: str) -> dict[str, Any]:
    deployment = kube.store.get("deployments", "default", name)
    assert deployment is not None
    return deployment


def _defaulted(value: Any) -> Any:
    """kubectl sends Go's zero values (`resources: {}`, `creationTimestamp: null`); a real API
    server decodes both templates into the same typed object, so empties compare as absent."""
    if isinstance(value, dict):
        kept = {k: _defaulted(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in kept.items() if v != {}}
    if isinstance(value, list):
        return [_defaulted(v) for v in value]
    return value


def _template(kube: SandboxKube, name: str) -> dict[str, Any]:
    """The pod template with the twin's own name taken out, so the two compare."""
    text = json.dumps(_live(kube, name)["spec"]["template"], sort_keys=True)
    return dict(_defaulted(json.loads(text.replace(name, "web"))))


async def test_kubectl_annotate_reaches_the_current_replicaset(
    kubectl: Kubectl, kube: SandboxKube
) -> None:
    await _release_history(kubectl, kube, "web")
    assert await _history(kubectl, "web") == [
        "REVISION  CHANGE-CAUSE",
        "1         rev1: web:1",
        "2         rev2: web:2",
        "3         rev3: web:3",
    ]
    current = next(
        rs
        for rs in kube.store.list("replicasets", "default")
        if rs["metadata"]["annotations"][REVISION] == "3"
    )
    assert current["metadata"]["annotations"] == {
        REVISION: "3",
        "deployment.kubernetes.io/desired-replicas": "2",
        "deployment.kubernetes.io/max-replicas": "3",
        "kubernetes.io/change-cause": "rev3: web:3",
        "team": "payments",
        "canary.example.com/weight": "10",
    }


@pytest.mark.parametrize(
    ("to_revision", "annotations", "history"),
    [
        (
            None,
            {REVISION: "4", "kubernetes.io/change-cause": "rev2: web:2", "team": "payments"},
            ["1         rev1: web:1", "3         rev3: web:3", "4         rev2: web:2"],
        ),
        (
            "1",
            {REVISION: "4", "kubernetes.io/change-cause": "rev1: web:1", "team": "payments"},
            ["2         rev2: web:2", "3         rev3: web:3", "4         rev1: web:1"],
        ),
    ],
)
async def test_rollbot_undo_leaves_what_kubectl_undo_leaves(
    kubectl: Kubectl,
    kube: SandboxKube,
    tmp_path: Path,
    to_revision: str | None,
    annotations: dict[str, str],
    history: list[str],
) -> None:
    for name in TWINS:
        await _release_history(kubectl, kube, name)
    by_kubectl, by_rollbot = TWINS

    chosen = [f"--to-revision={to_revision}"] if to_revision else []
    await kubectl.ok("rollout", "undo", f"deployment/{by_kubectl}", *chosen)
    await kubectl.ok("rollout", "status", f"deployment/{by_kubectl}", "--timeout=30s")

    executor = KubernetesExecutor(
        kubeconfig=kube.write_kubeconfig(tmp_path / "rollbot-kubeconfig"), rollout_timeout=30
    )
    request = make_request(RollbackType.DEPLOYMENT_LAST_VERSION).model_copy(
        update={
            "target": TargetRef(kind="deployment", name=by_rollbot, namespace="default"),
            "to_revision": to_revision,
            "baseline_revision": None,
        }
    )

    async def progress(line: str) -> None:
        pass

    await executor.execute(request, progress, unfenced)
    await kube.controller.idle()

    assert _live(kube, by_kubectl)["metadata"]["annotations"] == annotations
    assert _live(kube, by_rollbot)["metadata"]["annotations"] == annotations
    assert _template(kube, by_rollbot) == _template(kube, by_kubectl)
    assert await _history(kubectl, by_rollbot) == await _history(kubectl, by_kubectl)
    assert (await _history(kubectl, by_kubectl))[1:] == history
