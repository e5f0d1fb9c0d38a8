"""Ack first: a /rollback is answered before the cluster has answered the preflight, and the
stored command is opened once the cluster answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.targets import target_from
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.kube.server import SandboxKube
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.cluster import cluster_with, with_kubernetes
from tests.helpers import NOTHING, eventually, inbox_rows, stored

WEB = 'deployment/web -n prod --reason "5xx since web:2"'


@pytest.fixture
async def kube() -> AsyncIterator[SandboxKube]:
    async with cluster_with("web", ("web:1", "web:2")) as cluster:
        yield cluster


@pytest.fixture
def executors(executor: ScriptedExecutor, kube: SandboxKube, tmp_path: Path) -> dict[str, Any]:
    return with_kubernetes(executor, kube, tmp_path)


def _told(slack: SandboxSlack, user: str) -> list[str]:
    return [e["text"] for e in slack.state.ephemeral_for(user)]


async def test_the_answer_comes_before_the_cluster_has_answered_the_preflight(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    kube: SandboxKube,
    clock: FakeClock,
) -> None:
    # The API server holds every read; the preflight's reads wait on it.
    kube.faults.hang_on, kube.faults.hang_seconds = frozenset({"GET"}), 5.0
    runtime.workers.start()  # the worker runs as in `rollbot serve`
    reply = await driver.command("U0ALICE", channel, WEB)

    assert reply.status == 200
    assert "Opening a rollback request for `deployment/web -n prod`" in reply.json()["text"]
    await eventually(lambda: kube.faults.hanging > 0, "the worker never asked the cluster")
    assert await stored(runtime) == NOTHING  # answered while the preflight still waits
    assert await inbox_rows(runtime) == 1

    await runtime.workers.stop()  # that process stops while its worker waits on the cluster
    kube.faults.hang_on = frozenset()  # the API server recovers
    clock.advance(minutes=3)  # the stopped worker's hold on the row runs out
    await runtime.settle()
    assert len(await runtime.queries.history(target_from("deployment/web", "prod"))) == 1
    assert any("opened for `deployment/web -n prod`" in t for t in _told(slack, "U0ALICE"))
