"""A Deployment that Argo CD, Flux or Helm manages is not rolled back with a kubectl-style undo:
the person is told why and what to run instead (a Helm release's previous revision read from
its release Secrets), nothing is stored, and a service the policy allows a plain undo for is
rolled back as any other. Against the sandbox cluster with the real Kubernetes executor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.policy import ApprovalPolicy, ServicePolicy
from bot.domain.request import RequestState
from bot.domain.targets import target_from
from integrations.kubernetes.deployment import KubernetesExecutor
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.kube.helm import write_release
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube
from sandbox.slack.driver import SlackDriver
from tests.conftest import runbook_policy
from tests.e2e.cluster import cluster_with
from tests.e2e.workflow import command
from tests.helpers import audit_actions

SHOP = target_from("deployment/shop", "prod")
ASK = 'deployment/shop -n prod --severity P2 --reason "checkout 5xx"'


@pytest.fixture
async def kube() -> AsyncIterator[SandboxKube]:
    async with cluster_with("shop", ("shop:1.0.0", "shop:2.0.0")) as cluster:
        yield cluster


@pytest.fixture
def policy() -> ApprovalPolicy:
    helm_ok = {"web": ServicePolicy(helm="kubectl-undo")}
    return runbook_policy().model_copy(update={"services": helm_ok})


@pytest.fixture
def executors(executor: ScriptedExecutor, kube: SandboxKube, tmp_path: Path) -> dict[str, Any]:
    real = KubernetesExecutor(
        kubeconfig=kube.write_kubeconfig(tmp_path / "kc"),
        rollout_timeout=30,
        plain_undo=frozenset({"web"}),
    )
    return dict.fromkeys(("configmap", "codedeploy", "flag"), executor) | {"deployment": real}


def _mark(
    kube: SandboxKube,
    app: str,
    *,
    labels: dict[str, str] | None = None,
    notes: dict[str, str] | None = None,
) -> None:
    live = kube.store.get("deployments", "prod", app)
    assert live is not None
    live["metadata"].setdefault("labels", {}).update(labels or {})
    live["metadata"].setdefault("annotations", {}).update(notes or {})
    kube.store.replace("deployments", live)


async def _refused(runtime: Runtime, driver: SlackDriver, channel: str) -> str:
    before = await audit_actions(runtime)
    said = await command(runtime, driver, channel, "U0ALICE", ASK)
    assert await runtime.queries.history(SHOP) == []  # nothing stored
    assert await audit_actions(runtime) == before
    return said


async def test_an_argo_cd_application_is_refused_with_the_argo_cd_path(
    runtime: Runtime, driver: SlackDriver, channel: str, kube: SandboxKube
) -> None:
    _mark(kube, "shop", notes={"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:prod/shop"})
    said = await _refused(runtime, driver, channel)
    assert "is managed by Argo CD application shop: a kubectl-style undo would be put back" in said
    assert "`argocd app rollback shop <ID>`" in said


async def test_a_flux_kustomization_is_refused_until_suspended_by_hand(
    runtime: Runtime, driver: SlackDriver, channel: str, kube: SandboxKube
) -> None:
    flux = {
        "kustomize.toolkit.fluxcd.io/name": "apps",
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    }
    _mark(kube, "shop", labels=flux)
    said = await _refused(runtime, driver, channel)
    assert "reconciled by Flux Kustomization flux-system/apps" in said
    assert "`flux suspend kustomization apps -n flux-system`" in said


async def test_a_helm_release_is_refused_with_its_helm_rollback(
    runtime: Runtime, driver: SlackDriver, channel: str, kube: SandboxKube
) -> None:
    _mark(
        kube,
        "shop",
        notes={"meta.helm.sh/release-name": "shop", "meta.helm.sh/release-namespace": "prod"},
    )
    write_release(kube, "shop", "prod", 1, "superseded", ("shop", "0.1.0", "1.0.0"))
    write_release(kube, "shop", "prod", 2, "deployed", ("shop", "0.2.0", "2.0.0"))
    said = await _refused(runtime, driver, channel)
    assert (
        "belongs to Helm release shop: after a kubectl-style undo the next `helm upgrade`" in said
    )
    assert (
        "`helm rollback shop 1 -n prod` (release revision 1: chart shop-0.1.0, app version 1.0.0)"
        in said
    )


async def test_a_service_allowed_a_plain_undo_rolls_back_as_any_other(
    runtime: Runtime, driver: SlackDriver, channel: str, kube: SandboxKube
) -> None:
    await release_app(kube, "web", ("web:1.0.0", "web:1.1.0"))
    _mark(kube, "web", notes={"meta.helm.sh/release-name": "web"})
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/web -n prod --severity P2 --reason "x"'
    )
    [request] = await runtime.queries.history(target_from("deployment/web", "prod"))
    assert request.state is RequestState.AWAITING_DECISION
