"""A plan is checked against the live target right before it runs. A fix shipped after the
request was made is never undone by an automatic rollback of the stale plan.

The sandbox cluster and the real Kubernetes executor; Slack through signed requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.request import RequestState
from bot.domain.targets import target_from
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.kube.server import SandboxKube
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.cluster import cluster_with, image_of, with_kubernetes
from tests.e2e.workflow import card, command, thread
from tests.helpers import audit_actions

WEB = target_from("deployment/web", "prod")


@pytest.fixture
async def kube() -> AsyncIterator[SandboxKube]:
    async with cluster_with("web", ("web:1", "web:2")) as cluster:
        yield cluster


@pytest.fixture
def executors(executor: ScriptedExecutor, kube: SandboxKube, tmp_path: Path) -> dict[str, Any]:
    return with_kubernetes(executor, kube, tmp_path)


def _image(kube: SandboxKube) -> str:
    return image_of(kube, "web")


async def _ship(kube: SandboxKube, image: str) -> None:
    live = kube.store.get("deployments", "prod", "web")
    assert live is not None
    live["spec"]["template"]["spec"]["containers"] = [{"name": "web", "image": image}]
    kube.store.replace("deployments", live)
    await kube.controller.idle()


async def test_the_decision_timeout_never_undoes_a_fix_shipped_meanwhile(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    kube: SandboxKube,
) -> None:
    # alice is on call: a rollback to the previous revision would need nobody else
    await command(runtime, driver, channel, "U0ALICE", 'deployment/web -n prod --reason "5xx"')
    [opened] = await runtime.queries.history(WEB)
    assert (opened.baseline_revision, opened.to_revision) == ("2", "1")
    await _ship(kube, "web:3-fix")  # the team ships a fix; nobody decides on the card

    clock.advance(minutes=31)
    assert await runtime.due.timeouts.tick() == 1
    await runtime.settle()

    assert _image(kube) == "web:3-fix"  # the fix is still live
    [request] = await runtime.queries.history(WEB)
    assert request.state is RequestState.AWAITING_APPROVAL
    assert (request.baseline_revision, request.to_revision) == ("3", "2")
    assert request.approvals == ()
    assert not request.auto_approved
    actions = await audit_actions(runtime)
    assert "plan.changed" in actions
    assert "execution.started" not in actions
    lines = thread(slack, channel)
    moved = next(line for line in lines if "checked the target before rolling back" in line)
    assert "now runs revision 3, not revision 2" in moved
    assert "Nothing was rolled back" in moved
    assert any("Escalation" in line for line in lines)
    shown = card(slack, channel)["blocks"]
    text = " ".join(b.get("text", {}).get("text", "") for b in shown)
    assert "The plan changed after it was approved" in text
    assert "needs on call" in text  # a person on call other than the requester must approve


async def test_an_unchanged_plan_still_runs_at_the_timeout(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    kube: SandboxKube,
) -> None:
    await command(runtime, driver, channel, "U0ALICE", 'deployment/web -n prod --reason "5xx"')

    clock.advance(minutes=31)
    assert await runtime.due.timeouts.tick() == 1
    await runtime.settle()

    assert _image(kube) == "web:1"
    [request] = await runtime.queries.history(WEB)
    assert request.state is RequestState.COMPLETED
    assert "plan.changed" not in await audit_actions(runtime)
