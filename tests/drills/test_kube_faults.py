"""Drill 4: Kubernetes API faults through the whole workflow — 500s, 409 on patch, a dropped
watch, slow answers. Retried where that is safe, otherwise a clean failure with escalation;
never a second rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.policy import ApprovalPolicy
from bot.domain.request import RequestState
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from integrations.kubernetes.deployment import KubernetesExecutor
from rollbot.bootstrap.runtime import Runtime, build_runtime
from sandbox.executor import ScriptedExecutor, ScriptedVerifier
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import card, click, command, ephemerals, thread
from tests.helpers import audit_actions, eventually

API = target_from("deployment/api", "prod")
pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
async def kube() -> AsyncIterator[SandboxKube]:
    cluster = SandboxKube(rollout_seconds=0.6)
    await cluster.start()
    await release_app(cluster, "api", ("api:1.2.2", "api:1.2.3", "api:1.3.0"))
    yield cluster
    await cluster.stop()


@pytest.fixture
def executors(executor: ScriptedExecutor, kube: SandboxKube, tmp_path: Path) -> dict[str, Any]:
    real = KubernetesExecutor(
        kubeconfig=kube.write_kubeconfig(tmp_path / "kc"), rollout_timeout=30, request_timeout=1.0
    )
    return dict.fromkeys(("configmap", "codedeploy", "flag"), executor) | {"deployment": real}


def _revision(kube: SandboxKube) -> int:
    live = kube.store.get("deployments", "prod", "api")
    assert live is not None
    return int(live["metadata"]["annotations"]["deployment.kubernetes.io/revision"])


async def _roll_back(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> Any:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --to-revision 1 --reason "5xx"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    [request] = await runtime.queries.history(API)
    return request


async def test_transient_faults_are_ridden_out(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, kube: SandboxKube
) -> None:
    before = _revision(kube)
    kube.faults.error_rate = 0.2  # one read in five answers 500
    kube.faults.errors_on = frozenset({"GET"})  # a 500 on the patch itself is a clean failure
    kube.faults.latency = 0.05
    kube.faults.conflicts_on_patch = 2  # someone else keeps writing between read and patch
    kube.faults.drop_next_watch = True
    request = await _roll_back(runtime, driver, slack, channel)
    assert request.state is RequestState.COMPLETED, request.outcome
    assert _revision(kube) == before + 1  # one rollback
    actions = await audit_actions(runtime)
    assert actions.count("execution.started") == actions.count("execution.succeeded") == 1


async def test_a_patch_that_keeps_conflicting_fails_cleanly_and_escalates(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, kube: SandboxKube
) -> None:
    before = _revision(kube)
    kube.faults.conflicts_on_patch = 100
    request = await _roll_back(runtime, driver, slack, channel)
    assert request.state is RequestState.FAILED
    assert "refused the rollback patch: 409" in (request.outcome or "")
    assert _revision(kube) == before  # nothing changed
    lines = thread(slack, channel)
    assert any("Escalation" in line for line in lines)
    assert any("no automatic second try" in line for line in lines)
    assert (await audit_actions(runtime)).count("execution.started") == 1


async def test_a_hung_api_server_fails_the_rollback_within_its_timeout(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, kube: SandboxKube
) -> None:
    """The API server stops answering after the preflight: the patch gets no answer. The
    request ends failed within the client's timeout, says what is known, and escalates."""
    kube.faults.hang_on = frozenset({"PATCH"})
    kube.faults.hang_seconds = 3.0
    request = await _roll_back(runtime, driver, slack, channel)
    assert request.state is RequestState.FAILED
    outcome = request.outcome or ""
    assert "did not answer within 1 s" in outcome
    assert "the state of `deployment/api -n prod` is unknown" in outcome
    assert "kubectl rollout status deployment/api -n prod" in outcome
    lines = thread(slack, channel)
    assert any("Escalation" in line for line in lines)
    assert "execution.failed" in await audit_actions(runtime)


@pytest.mark.drill  # slow (a read timeout on every retry): `make drills`
async def test_an_api_server_that_stops_answering_reads_refuses_the_approval(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, kube: SandboxKube
) -> None:
    """Before anything runs, the approval re-reads the target; a hung API server makes that
    read give up after its timeout: the approver is told, and nothing is rolled back."""
    before = _revision(kube)
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --to-revision 1 --reason "5xx"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    kube.faults.hang_on = frozenset({"GET"})  # reads hang from here on
    kube.faults.hang_seconds = 2.0
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    kube.faults.hang_on = frozenset()
    [request] = await runtime.queries.history(API)
    assert request.state is RequestState.AWAITING_APPROVAL
    assert request.approvals == ()
    told = " ".join(ephemerals(slack, "U0BOB"))
    assert "the Kubernetes API failed while reading" in told
    assert "nothing was changed" in told
    assert _revision(kube) == before
    assert "execution.started" not in await audit_actions(runtime)


@pytest.mark.parametrize("slow", ["rollout", "patch"])
@pytest.mark.drill  # slow (a lease runs out in real time): `make drills`
async def test_a_takeover_of_a_slow_rollback_rolls_back_once(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    kube: SandboxKube,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executors: dict[str, Any],
    slow: str,
) -> None:
    """The first process's lease lapses while it still works: its patch is in and it watches a
    slow rollout, or its patch is still on its way to a slow API server. Another process takes
    over: it follows a patch that is there, and waits out one that may still land before it
    looks again. One patch, one record; the first process's late outcome is fenced off."""
    before = _revision(kube)
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --to-revision 1 --reason "5xx"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    if slow == "rollout":
        kube.controller.rollout_seconds = 4.0
    else:  # the API server takes 0.8 s to apply a patch (the client gives up after 1 s)
        kube.faults.hang_on, kube.faults.hang_seconds = frozenset({"PATCH"}), 0.8
    await driver.click("U0BOB", channel, card(slack, channel), ActionId.APPROVE)
    await runtime.workers.slack.drain()  # the approval; its rollback runs behind, unsettled
    await eventually(  # until the first process watches, or its patch is held up
        lambda: _revision(kube) == before + 1 or bool(kube.faults.hanging),
        "the rollback never got under way",
    )
    # the second process waits 2 s before it acts on a target that looks untouched
    settings = runtime.settings.model_copy(update={"takeover_grace_seconds": 2})
    other = await build_runtime(
        settings, clock=clock, policy=policy, executors=executors, verifier=ScriptedVerifier()
    )
    try:
        clock.advance(minutes=3)
        assert await other.due.leases.reclaim() == 1
        await other.settle()
        await runtime.settle()
        kube.faults.hang_on = frozenset()
        [request] = await other.queries.history(API)
        assert request.state is RequestState.COMPLETED, request.outcome
        assert _revision(kube) == before + 1  # patched once
        actions = await audit_actions(other)
        assert actions.count("execution.started") == 1
        assert actions.count("execution.resumed") == 1
        assert actions.count("execution.succeeded") == 1
        assert actions.count("verification.passed") == 1
        lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
        assert (
            f"`deployment/api -n prod` is at revision {before + 1}; following its rollout" in lines
        )
        assert not any("nothing was rolled back" in line for line in lines)
    finally:
        await other.close()
