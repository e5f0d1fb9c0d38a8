"""The CodeDeploy executor against the sandbox CodeDeploy over HTTP (boto3 signing real requests):
paged history in either order, which deployment is restored and why, a stop that rides out
throttling within a deadline, ECS blue/green, and the group's own automatic rollback."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from bot.domain.policy import RollbackType
from bot.domain.request import TargetRef
from bot.ports import ExecutionError, UnknownTargetError
from integrations.codedeploy.executor import CodeDeployExecutor
from sandbox.codedeploy.server import SandboxCodeDeploy
from tests.helpers import unfenced
from tests.unit.domain.factories import make_request

SHOP = TargetRef(kind="codedeploy", name="shop/prod")
ORDERS = ("newest", "oldest")


@pytest.fixture
async def codedeploy() -> AsyncIterator[SandboxCodeDeploy]:
    fake = SandboxCodeDeploy()
    fake.state.deploy_seconds = 0.2
    await fake.start()
    yield fake
    await fake.stop()


def _executor(codedeploy: SandboxCodeDeploy, **kwargs: Any) -> CodeDeployExecutor:
    client = boto3.client(
        "codedeploy",
        endpoint_url=codedeploy.url,
        region_name="us-east-1",
        aws_access_key_id=codedeploy.state.access_key,
        aws_secret_access_key=codedeploy.state.secret_key,
        # one attempt per call: each fault the sandbox serves is one answer rollbot sees
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    return CodeDeployExecutor(client, poll_seconds=0.02, timeout_seconds=20, **kwargs)


async def _execute(executor: CodeDeployExecutor) -> tuple[Any, list[str]]:
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    request = make_request(RollbackType.DEPLOYMENT_LAST_VERSION).model_copy(
        update={"target": SHOP, "to_revision": None}
    )
    return await executor.execute(request, progress, unfenced), lines


def _releases(codedeploy: SandboxCodeDeploy, count: int, **kwargs: Any) -> list[str]:
    return [
        codedeploy.state.release("shop", "prod", f"shop-{n}.zip", **kwargs)
        for n in range(1, count + 1)
    ]


@pytest.mark.parametrize("order", ORDERS)
async def test_thirty_deployments_over_two_pages_in_either_order(
    codedeploy: SandboxCodeDeploy, order: str
) -> None:
    codedeploy.state.add_group("shop", "prod")
    codedeploy.state.list_order, codedeploy.state.page_size = order, 25
    ids = _releases(codedeploy, 30)
    pre = await _executor(codedeploy).preflight(SHOP, None)
    assert (pre.live_revision, pre.to_revision) == (ids[29], ids[28])
    listed = [a for op, a in codedeploy.state.calls if op == "ListDeployments"]
    assert [a.get("nextToken") for a in listed] == [None, "page-25"]
    assert all("createTimeRange" in a for a in listed)  # a bounded window, not all of history


@pytest.mark.parametrize("order", ORDERS)
async def test_one_success_then_25_failed_releases_restores_the_last_successful(
    codedeploy: SandboxCodeDeploy, order: str
) -> None:
    codedeploy.state.add_group("shop", "prod")
    codedeploy.state.list_order, codedeploy.state.page_size = order, 10
    [good] = _releases(codedeploy, 1)
    for n in range(2, 27):
        codedeploy.state.release("shop", "prod", f"shop-{n}.zip", failing="ValidateService failed")
    # older than the history window: only GetDeploymentGroup still names it
    codedeploy.state.deployments[good].created = time.time() - 200 * 86400
    pre = await _executor(codedeploy).preflight(SHOP, None)
    assert pre.to_revision == good
    assert f"(from {good}, the group's last successful deployment)" in pre.summary


async def test_codedeploys_own_rollback_deployments_are_not_what_is_restored(
    codedeploy: SandboxCodeDeploy,
) -> None:
    codedeploy.state.add_group("shop", "prod", auto_rollback=True)
    first, second = _releases(codedeploy, 2)
    failed = codedeploy.state.release("shop", "prod", "shop-3.zip", failing="AfterInstall failed")
    rollback = codedeploy.state.deployments[failed].rollback_info["rollbackDeploymentId"]
    codedeploy.state.deployments[rollback].duration = 0
    codedeploy.state.of_group("shop", "prod")
    assert codedeploy.state.deployments[rollback].creator == "codeDeployRollback"
    assert codedeploy.state.deployments[rollback].status == "Succeeded"
    bad = codedeploy.state.release("shop", "prod", "shop-4.zip")
    pre = await _executor(codedeploy).preflight(SHOP, None)
    assert (pre.live_revision, pre.to_revision) == (bad, second)
    assert "not counting CodeDeploy's own rollbacks" in pre.summary
    assert first != second


async def test_three_throttled_polls_after_a_stop_are_ridden_out(
    codedeploy: SandboxCodeDeploy,
) -> None:
    codedeploy.state.add_group("shop", "prod")
    _releases(codedeploy, 1)
    bad = codedeploy.state.release("shop", "prod", "shop-2.zip", running=True)
    codedeploy.state.deployments[bad].duration = 600
    executor = _executor(codedeploy)
    await executor.preflight(SHOP, None)
    # the three polls right after the stop are throttled; boto3 makes one attempt each
    codedeploy.state.fail_next("GetDeployment", "throttle", times=3)
    result, lines = await _execute(executor)
    assert codedeploy.state.deployments[bad].status == "Stopped"
    rollback = codedeploy.state.deployments[result.to_revision]
    assert (rollback.creator, rollback.status) == ("codeDeployRollback", "Succeeded")
    assert f"CodeDeploy started rollback deployment {rollback.id}" in lines
    after_stop = [op for op, _ in codedeploy.state.calls]
    after_stop = after_stop[after_stop.index("StopDeployment") :]
    assert after_stop.count("GetDeployment") > 3  # three throttled, then answered
    assert not codedeploy.state.faults  # all three were served


async def test_a_stop_codedeploy_never_acts_on_ends_at_the_deadline(
    codedeploy: SandboxCodeDeploy,
) -> None:
    codedeploy.state.add_group("shop", "prod")
    _releases(codedeploy, 1)
    bad = codedeploy.state.release("shop", "prod", "shop-2.zip", running=True)
    codedeploy.state.deployments[bad].duration = 600
    codedeploy.state.stop_seconds = 600  # StopDeployment answers Pending and nothing happens
    with pytest.raises(ExecutionError) as failed:
        await _execute(_executor(codedeploy, stop_timeout_seconds=0.3))
    assert str(failed.value) == (
        f"CodeDeploy accepted the stop of {bad} but it is still InProgress and no rollback "
        "deployment was started within 0.3 s; check it in the CodeDeploy console"
    )


async def test_ecs_blue_green_waiting_in_ready_is_stopped_and_traffic_shifts_back(
    codedeploy: SandboxCodeDeploy,
) -> None:
    codedeploy.state.add_group("shop", "prod", platform="ECS")
    [original] = _releases(codedeploy, 1)
    codedeploy.state.groups[("shop", "prod")]["wait_ready"] = True
    bad = codedeploy.state.release("shop", "prod", "shop-2.zip", running=True)
    codedeploy.state.deployments[bad].duration = 0
    codedeploy.state.of_group("shop", "prod")
    assert codedeploy.state.deployments[bad].status == "Ready"
    executor = _executor(codedeploy)
    pre = await executor.preflight(SHOP, None)
    assert pre.summary.startswith(
        f"stop {bad} (Ready, s3://releases/shop-2.zip) with automatic rollback: traffic shifts "
        "back to the original task set (s3://releases/shop-1.zip)"
    )
    result, lines = await _execute(executor)
    assert lines[1].startswith(f"{bad} is waiting in Ready: its replacement is up")
    [stop] = [a for op, a in codedeploy.state.calls if op == "StopDeployment"]
    assert stop == {"deploymentId": bad, "autoRollbackEnabled": True}
    assert codedeploy.state.serving[("shop", "prod")]["s3Location"]["key"] == "shop-1.zip"
    assert codedeploy.state.deployments[result.to_revision].creator == "codeDeployRollback"
    assert "CreateDeployment" not in codedeploy.state.operations_called()
    assert original != bad


@pytest.mark.parametrize("platform", ["ECS", "Lambda"])
async def test_a_redeploy_of_an_older_blue_green_revision_is_refused_with_the_reason(
    codedeploy: SandboxCodeDeploy, platform: str
) -> None:
    codedeploy.state.add_group("shop", "prod", platform=platform)
    _releases(codedeploy, 2)
    with pytest.raises(UnknownTargetError) as refused:
        await _executor(codedeploy).preflight(SHOP, None)
    assert str(refused.value).startswith(
        f"`codedeploy/shop/prod` runs on {platform}: rollbot stops a running blue/green "
        f"deployment with automatic rollback, but redeploying an earlier {platform} revision"
    )


async def test_the_groups_auto_rollback_answering_a_failed_redeploy_is_followed(
    codedeploy: SandboxCodeDeploy,
) -> None:
    codedeploy.state.add_group("shop", "prod", auto_rollback=True)
    _releases(codedeploy, 2)
    codedeploy.state.failing_keys["shop-1.zip"] = "ValidateService: health check failed"
    with pytest.raises(ExecutionError) as failed:
        await _execute(_executor(codedeploy))
    ours, answer = "d-SBX000003", "d-SBX000004"
    assert codedeploy.state.deployments[answer].creator == "codeDeployRollback"
    assert str(failed.value) == (
        f"rollback deployment {ours} Failed: ValidateService: health check failed. The group's "
        f"automatic rollback then deployed s3://releases/shop-2.zip with {answer}: live now is "
        "the revision that was live before this rollback"
    )
    assert codedeploy.state.serving[("shop", "prod")]["s3Location"]["key"] == "shop-2.zip"
