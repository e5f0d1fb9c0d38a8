"""A rollback whose health checks stay red: failed to recover, escalated, evidenced."""

from __future__ import annotations

import json
import tarfile

import pytest

from bot.domain.policy import ApprovalPolicy, HttpCheck, ServicePolicy, VerificationPolicy
from bot.domain.request import RequestState
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from integrations.health.checks import HttpVerifier
from rollbot.bootstrap.runtime import Runtime
from sandbox.service import SandboxService
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import click, command, thread


@pytest.fixture
def policy(policy: ApprovalPolicy, service: SandboxService) -> ApprovalPolicy:
    plan = VerificationPolicy(health=(HttpCheck(name="api", url=f"{service.url}/healthz"),))
    return policy.model_copy(update={"services": {"api": ServicePolicy(verification=plan)}})


@pytest.fixture
def verifier(policy: ApprovalPolicy) -> HttpVerifier:  # the real verifier, not the scripted one
    return HttpVerifier(policy)


async def test_red_health_checks_fail_the_rollback_and_escalate(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    service: SandboxService,
) -> None:
    service.state["health_status"] = 503
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P1 --reason "down"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    [request] = await runtime.queries.history(target_from("deployment/api", "prod"))
    assert request.state is RequestState.FAILED
    assert request.verification["health_check"] == "failed 0/1: api: HTTP 503, expected 200"
    timeline = thread(slack, channel)
    assert any("recovery NOT verified: health check failed 0/1" in line for line in timeline)
    assert any("Escalation" in line for line in timeline)
    [pack] = list(runtime.settings.evidence_dir.glob("*/evidence-*.tar.gz"))
    with tarfile.open(pack) as tar:
        manifest = json.loads(tar.extractfile(f"{request.id}/manifest.json").read())  # type: ignore[union-attr]
    assert manifest["verification"]["health_check"] == "failed 0/1: api: HTTP 503, expected 200"
