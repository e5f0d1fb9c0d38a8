"""CodeDeploy as a rollback target: the Slack workflow end to end, boto3 signing real requests to
the sandbox CodeDeploy service over HTTP (the SOC 2 rollback and recovery procedures: CodeDeploy "Stop and Rollback")."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config.settings import load_settings
from bot.domain.request import RequestState
from bot.usecases.audit_export import verify_database
from handlers.slack.ids import ActionId
from integrations.codedeploy.executor import CodeDeployExecutor
from rollbot.bootstrap.executors import codedeploy_client
from rollbot.bootstrap.runtime import Runtime
from sandbox.codedeploy.server import SandboxCodeDeploy
from sandbox.executor import ScriptedExecutor
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import buttons, card, click, command, form_text, form_values, thread
from tests.helpers import NOTHING, audit_actions, evidence_files, stored

SHOP = "codedeploy/shop/prod"


@pytest.fixture
async def codedeploy() -> AsyncIterator[SandboxCodeDeploy]:
    fake = SandboxCodeDeploy()
    fake.state.deploy_seconds = 0.3
    await fake.start()
    fake.state.add_group("shop", "prod")
    fake.state.release("shop", "prod", "shop-1.0.zip")  # d-SBX000001, good
    yield fake
    await fake.stop()


@pytest.fixture
def executors(executor: ScriptedExecutor, codedeploy: SandboxCodeDeploy) -> dict[str, Any]:
    settings = load_settings(
        slack_bot_token="x", slack_signing_secret="x", codedeploy_endpoint=codedeploy.url
    )
    client = codedeploy_client(
        settings,
        access_key=codedeploy.state.access_key,
        secret_key=codedeploy.state.secret_key,
        attempts=2,  # botocore's backoff is real time; two tries still show the retry
    )
    real = CodeDeployExecutor(client, poll_seconds=0.05, timeout_seconds=30)
    return {"deployment": executor, "configmap": executor, "codedeploy": real, "flag": executor}


async def _only(runtime: Runtime) -> Any:
    from bot.domain.targets import target_from

    [request] = await runtime.queries.history(target_from(SHOP, None))
    return request


async def test_a_bad_release_is_rolled_back_by_redeploying_the_good_revision(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    codedeploy: SandboxCodeDeploy,
) -> None:
    bad = codedeploy.state.release("shop", "prod", "shop-1.1.zip")  # d-SBX000002, finished
    text = f'{SHOP} --to-revision d-SBX000001 --severity P2 --reason "checkout 5xx since 1.1"'
    await command(runtime, driver, channel, "U0ALICE", text)
    shown = str(card(slack, channel)["blocks"])
    assert (
        f"redeploy s3://releases/shop-1.0.zip (from d-SBX000001, the deployment asked for) over {bad} "
        "(s3://releases/shop-1.1.zip)" in shown
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    assert "Approve" in buttons(card(slack, channel))  # an older revision needs the lead
    assert codedeploy.state.operations_called().count("CreateDeployment") == 0
    codedeploy.state.fail_next("CreateDeployment", "throttle")  # once: boto3 retries it
    codedeploy.state.fail_next("GetDeployment", "5xx")  # once while following: waited out
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)

    request = await _only(runtime)
    assert request.state is RequestState.COMPLETED
    _, created = [a for op, a in codedeploy.state.calls if op == "CreateDeployment"]
    assert created["revision"]["s3Location"]["key"] == "shop-1.0.zip"
    assert created["description"].startswith(f"rollbot {request.id}:")
    rollback = codedeploy.state.deployments["d-SBX000003"]
    assert rollback.status == "Succeeded"
    assert (request.baseline_revision, request.to_revision) == (bad, "d-SBX000003")
    lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
    assert "created deployment d-SBX000003: redeploy s3://releases/shop-1.0.zip" in " ".join(lines)
    assert "d-SBX000003 Succeeded: 3 of 3 instances done" in lines
    assert "rollbot rolled back to revision d-SBX000003" in lines

    _, files = evidence_files(runtime)
    before, after = json.loads(files["before.json"]), json.loads(files["after.json"])
    assert before["lastSuccessfulDeployment"]["deploymentId"] == bad
    assert [d["deploymentId"] for d in before["recentDeployments"]] == ["d-SBX000001", bad]
    assert after["recentDeployments"][-1]["deploymentId"] == "d-SBX000003"
    assert after["recentDeployments"][-1]["revision"]["s3Location"]["key"] == "shop-1.0.zip"
    # the console's deployment page, as text: the group's details and each instance summary
    readable = files["codedeploy-before.txt"].decode().splitlines()
    assert readable[0] == f"Deployment group {SHOP}"
    assert readable[1].split() == ["Last", "successful", "deployment:", bad]
    redeployed = next(
        line
        for line in files["codedeploy-after.txt"].decode().splitlines()
        if line.startswith("d-SBX000003")
    )
    assert redeployed.split()[:2] == ["d-SBX000003", "Succeeded"]
    assert "succeeded 3" in redeployed
    assert (await verify_database(runtime.engine, runtime.uow.signer.public_key)).ok

    history = await command(runtime, driver, channel, "U0BOB", f"history {SHOP}")
    assert f"`{SHOP}` — :large_green_circle: completed" in history

    # deploying the bad release's revision again is named for what it is
    again = f'{SHOP} --to-revision {bad} --severity P2 --reason "retry 1.1"'
    await command(runtime, driver, channel, "U0ALICE", again)
    assert (
        f"this re-deploys s3://releases/shop-1.1.zip, which {request.id} rolled back from"
        in str(card(slack, channel)["blocks"])
    )


async def test_a_running_release_is_stopped_and_codedeploy_rolls_it_back(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    codedeploy: SandboxCodeDeploy,
) -> None:
    bad = codedeploy.state.release("shop", "prod", "shop-1.1.zip", running=True)
    codedeploy.state.deployments[bad].duration = 600  # still rolling out when rollbot acts
    await command(runtime, driver, channel, "U0ALICE", f'{SHOP} --severity P1 --reason "down"')
    assert f"stop {bad} (InProgress, s3://releases/shop-1.1.zip) with automatic rollback" in str(
        card(slack, channel)["blocks"]
    )
    # the on-call engineer's rollback to the last version runs at once (runbook matrix)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)

    request = await _only(runtime)
    assert request.state is RequestState.AWAITING_RECOVERY_CONFIRMATION  # rolled back (P1)
    [stop] = [a for op, a in codedeploy.state.calls if op == "StopDeployment"]
    assert stop == {"deploymentId": bad, "autoRollbackEnabled": True}
    assert codedeploy.state.deployments[bad].status == "Stopped"
    rollback = codedeploy.state.deployments["d-SBX000003"]
    assert (rollback.creator, rollback.status) == ("codeDeployRollback", "Succeeded")
    assert "CreateDeployment" not in codedeploy.state.operations_called()
    lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
    assert any(line.startswith(f"stopped {bad} with automatic rollback") for line in lines)
    assert "CodeDeploy started rollback deployment d-SBX000003" in lines


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("throttle", "CreateDeployment with ThrottlingException: Rate exceeded"),
        ("5xx", "CreateDeployment with InternalFailure"),
        ("denied", "is not authorized to perform: codedeploy:CreateDeployment"),
    ],
)
async def test_api_errors_fail_the_rollback_cleanly(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    codedeploy: SandboxCodeDeploy,
    fault: str,
    says: str,
) -> None:
    codedeploy.state.release("shop", "prod", "shop-1.1.zip")
    await command(runtime, driver, channel, "U0ALICE", f'{SHOP} --severity P2 --reason "5xx"')
    codedeploy.state.fail_next("CreateDeployment", fault, times=10)  # beyond boto3's retries
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)

    request = await _only(runtime)
    assert request.state is RequestState.FAILED
    assert says in (request.outcome or "")
    lines = thread(slack, channel)
    assert any(says in line and "rollback failed" in line for line in lines)
    assert any("Escalation" in line for line in lines)
    assert len(codedeploy.state.deployments) == 2  # nothing was deployed
    actions = await audit_actions(runtime)
    assert actions.count("execution.started") == actions.count("execution.failed") == 1
    assert "execution.succeeded" not in actions
    assert (await verify_database(runtime.engine, runtime.uow.signer.public_key)).ok
    assert await runtime.delivery.drain() == 0  # every timeline entry went out


async def test_errors_before_the_request_opens_refuse_it_and_store_nothing(
    runtime: Runtime, driver: SlackDriver, channel: str, codedeploy: SandboxCodeDeploy
) -> None:
    codedeploy.state.release("shop", "prod", "shop-1.1.zip")
    codedeploy.state.fail_next("ListDeployments", "5xx", times=10)
    said = await command(runtime, driver, channel, "U0ALICE", f'{SHOP} --reason "5xx"')
    assert "CodeDeploy answered ListDeployments with InternalFailure" in said
    unknown = await command(
        runtime, driver, channel, "U0ALICE", 'codedeploy/shop/nope --reason "5xx"'
    )
    assert "The deployment group nope does not exist" in unknown
    assert await stored(runtime) == NOTHING


async def test_the_form_opens_a_codedeploy_request(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    codedeploy: SandboxCodeDeploy,
) -> None:
    codedeploy.state.release("shop", "prod", "shop-1.1.zip")
    await driver.command("U0ALICE", channel, "")
    [view_id] = slack.state.views
    kind = {"value": {"type": "static_select", "selected_option": {"value": "codedeploy"}}}
    fields = {
        "target_kind": kind,
        "target_name": form_text("shop/prod"),
        "namespace": form_text(""),
    }
    wrong = await driver.submit_view(
        "U0ALICE", view_id, form_values(**fields, to_revision=form_text("3"))
    )
    assert wrong.json()["errors"] == {
        "to_revision": "--to-revision takes a CodeDeploy deployment ID (d-…), not `3`"
    }
    ok = await driver.submit_view(
        "U0ALICE", view_id, form_values(**fields, to_revision=form_text("d-SBX000001"))
    )
    assert ok.status == 200
    await runtime.settle()
    request = await _only(runtime)
    assert (request.target.label, request.to_revision) == (SHOP, "d-SBX000001")
    assert request.rollback_type.value == "deployment_older_version"
