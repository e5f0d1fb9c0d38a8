"""A plan that would re-deploy what a rollback just rolled back from is flagged, needs the
older-version approval, and never runs by an automatic path. The sandbox cluster and the real
Kubernetes executor; Slack through signed requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.policy import RollbackType
from bot.domain.request import RequestState
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.kube.server import SandboxKube
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.cluster import cluster_with, image_of, with_kubernetes
from tests.e2e.workflow import card, click, command

API = target_from("deployment/api", "prod")


@pytest.fixture
async def kube() -> AsyncIterator[SandboxKube]:
    async with cluster_with("api", ("api:1.2.2", "api:1.3.0", "api:1.4.0")) as cluster:
        yield cluster


@pytest.fixture
def executors(executor: ScriptedExecutor, kube: SandboxKube, tmp_path: Path) -> dict[str, Any]:
    return with_kubernetes(executor, kube, tmp_path)


def _image(kube: SandboxKube) -> str:
    return image_of(kube, "api")


def _card_text(slack: SandboxSlack, channel: str) -> str:
    return " ".join(b.get("text", {}).get("text", "") for b in card(slack, channel)["blocks"])


async def test_a_plan_back_into_the_bad_release_is_flagged_and_waits_for_people(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    kube: SandboxKube,
) -> None:
    # 1.4.0 is bad: alice (on call) rolls back to the previous release, 1.3.0
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "5xx"')
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    [first] = await runtime.queries.history(API)
    assert first.state is RequestState.COMPLETED
    assert _image(kube) == "api:1.3.0"

    # an hour later someone asks for "the previous revision" again: that is 1.4.0
    clock.advance(hours=1)
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "slow"')
    second = next(r for r in await runtime.queries.history(API) if r.id != first.id)
    assert second.to_identity == "api:1.4.0"
    assert second.known_bad is not None
    assert f"re-deploys api:1.4.0, which {first.id} rolled back from" in second.known_bad
    assert second.rollback_type is RollbackType.DEPLOYMENT_OLDER_VERSION
    assert "Back into a version rolled back from" in _card_text(slack, channel)

    # nobody decides: no automatic rollback into the bad release
    clock.advance(minutes=31)
    assert await runtime.due.timeouts.tick() == 0
    # choosing a rollback does not auto-approve it for alice: the engineering lead must
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    waiting = await runtime.queries.status(channel, second.id)
    assert waiting.state is RequestState.AWAITING_APPROVAL
    assert _image(kube) == "api:1.3.0"


async def test_a_plan_elsewhere_is_not_flagged(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, kube: SandboxKube
) -> None:
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "5xx"')
    [request] = await runtime.queries.history(API)
    assert request.known_bad is None
    assert request.to_identity == "api:1.3.0"
    assert "Back into a version" not in _card_text(slack, channel)
