"""moto is the judge of the sandbox CodeDeploy for the operations moto implements: the same boto3
calls against both must give answers of the same shape and the same errors. (StopDeployment,
which moto lacks, is the reason the sandbox exists; deployments there also progress, where
moto's stay Created, so statuses are not compared.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from bot.domain.request import TargetRef
from integrations.codedeploy.executor import CodeDeployExecutor
from sandbox.codedeploy.server import SandboxCodeDeploy
from sandbox.codedeploy.state import s3_revision

ROLE = "arn:aws:iam::123456789012:role/codedeploy"


@pytest.fixture
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxCodeDeploy]:
    fake = SandboxCodeDeploy()
    await fake.start()
    yield fake
    await fake.stop()


def _client(url: str, key: str = "AKIDSANDBOXROLLBOT", secret: str = "sandbox-secret-key") -> Any:
    return boto3.client(
        "codedeploy",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def _script(client: Any) -> dict[str, Any]:
    """What rollbot's executor calls, on a group set up the same way on both services."""
    client.create_application(applicationName="shop", computePlatform="Server")
    client.create_deployment_group(
        applicationName="shop", deploymentGroupName="prod", serviceRoleArn=ROLE
    )
    created = client.create_deployment(
        applicationName="shop",
        deploymentGroupName="prod",
        revision=s3_revision("shop-1.0.zip"),
        description="release 1.0",
    )
    deployment_id = created["deploymentId"]
    out: dict[str, Any] = {
        "created": created,
        "info": client.get_deployment(deploymentId=deployment_id)["deploymentInfo"],
        "batch": client.batch_get_deployments(deploymentIds=[deployment_id])["deploymentsInfo"],
        "listed": client.list_deployments(applicationName="shop", deploymentGroupName="prod"),
        "group": client.get_deployment_group(applicationName="shop", deploymentGroupName="prod")[
            "deploymentGroupInfo"
        ],
        "id": deployment_id,
        "errors": {},
    }
    for name, call in {
        "no_group": lambda: client.get_deployment_group(
            applicationName="shop", deploymentGroupName="nope"
        ),
        "no_app": lambda: client.get_deployment_group(
            applicationName="nope", deploymentGroupName="prod"
        ),
        "no_deployment": lambda: client.get_deployment(deploymentId="d-NOPE12345"),
    }.items():
        with pytest.raises(ClientError) as caught:
            call()
        out["errors"][name] = (
            caught.value.response["Error"]["Code"],
            caught.value.response["Error"]["Message"],
        )
    return out


# Keys the sandbox adds that moto's model leaves out (both are in the CodeDeploy API reference).
SANDBOX_ONLY = {"startTime", "completeTime"}
READ_BY_ROLLBOT = {"deploymentId", "status", "revision", "createTime", "deploymentOverview"}


async def test_sandbox_answers_as_moto_does(moto_url: str, sandbox: SandboxCodeDeploy) -> None:
    judge = await asyncio.to_thread(_script, _client(moto_url))
    ours = await asyncio.to_thread(_script, _client(sandbox.url))

    assert set(ours["created"]) == set(judge["created"])
    assert set(judge["info"]) & set(ours["info"]) >= READ_BY_ROLLBOT
    assert set(ours["info"]) - set(judge["info"]) <= SANDBOX_ONLY
    for key in set(ours["info"]) & set(judge["info"]):
        assert type(ours["info"][key]) is type(judge["info"][key]), key
    assert set(ours["info"]["deploymentOverview"]) == set(judge["info"]["deploymentOverview"])
    assert ours["info"]["revision"] == judge["info"]["revision"]
    assert [d["deploymentId"] for d in ours["batch"]] == [ours["id"]]
    assert set(ours["batch"][0]) == set(ours["info"])
    assert ours["listed"]["deployments"] == [ours["id"]]
    assert judge["listed"]["deployments"] == [judge["id"]]
    # moto keeps the group's deployment summaries empty; the keys must still be the API's
    assert set(ours["group"]) <= set(judge["group"])
    assert set(ours["group"]["lastAttemptedDeployment"]) >= {"deploymentId", "status"}
    assert ours["errors"] == judge["errors"]


async def test_the_sandbox_checks_the_signature_moto_does_not(
    sandbox: SandboxCodeDeploy,
) -> None:
    forged = _client(sandbox.url, secret="not-the-secret")
    with pytest.raises(ClientError) as caught:
        await asyncio.to_thread(forged.list_applications)
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    stranger = _client(sandbox.url, key="AKIDSOMEONEELSE")
    with pytest.raises(ClientError) as unknown:
        await asyncio.to_thread(stranger.list_applications)
    assert unknown.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert sandbox.state.calls == []  # refused before anything was done


def _thirty_releases(client: Any) -> list[str]:
    # moto's backend outlives one server: its own application name
    client.create_application(applicationName="bigshop", computePlatform="Server")
    client.create_deployment_group(
        applicationName="bigshop", deploymentGroupName="prod", serviceRoleArn=ROLE
    )
    return [
        client.create_deployment(
            applicationName="bigshop",
            deploymentGroupName="prod",
            revision=s3_revision(f"shop-{n}.zip"),
        )["deploymentId"]
        for n in range(1, 31)
    ]


async def test_with_thirty_deployments_in_moto_the_newest_is_live(moto_url: str) -> None:
    """moto lists oldest first: reading only the first 25 ids reported #25 as live."""
    client = _client(moto_url)
    ids = await asyncio.to_thread(_thirty_releases, client)
    executor = CodeDeployExecutor(client, poll_seconds=0.01)
    assert (
        await executor.live_revision(TargetRef(kind="codedeploy", name="bigshop/prod")) == ids[-1]
    )
