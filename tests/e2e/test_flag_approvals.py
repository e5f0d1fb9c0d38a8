"""A flag environment that requires the flag service's own approval, end to end: rollbot's
approvals come first, then the change goes in as a LaunchDarkly approval request (the same
semantic patch, a comment naming the request), which a LaunchDarkly reviewer approves or
declines while rollbot follows it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.domain.request import RequestState
from bot.domain.targets import target_from
from bot.ports import ConfigVersions
from bot.usecases.audit_export import verify_database
from handlers.slack.ids import ActionId
from integrations.flags.http import JsonApi
from integrations.flags.launchdarkly import LD_API_VERSION, LaunchDarklyExecutor
from integrations.flags.reviews import WaitRules
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.flags.server import SandboxFlags
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import card, click, command, thread
from tests.helpers import audit_actions

CHECKOUT = target_from("flag/new-checkout", None, "production")
FAST = WaitRules(wait_seconds=20, poll_seconds=0.02, remind_seconds=60)


@pytest.fixture
async def flags() -> AsyncIterator[SandboxFlags]:
    fake = SandboxFlags()
    await fake.start()
    fake.state.add_ld_flag("default", "new-checkout", on={"production": True, "staging": True})
    fake.state.ld_approval_envs.add(("default", "production"))
    yield fake
    await fake.stop()


@pytest.fixture
def executors(
    executor: ScriptedExecutor, flags: SandboxFlags
) -> Callable[[ConfigVersions], dict[str, Any]]:
    def build(versions: ConfigVersions) -> dict[str, Any]:
        api = JsonApi(flags.url, flags.state.ld_token, "LaunchDarkly", max_wait=0.05)
        flag = LaunchDarklyExecutor(api, "default", versions, waits=FAST)
        return dict.fromkeys(("deployment", "configmap", "codedeploy"), executor) | {"flag": flag}

    return build


async def _reviewer(
    flags: SandboxFlags,
    kind: str,
    comment: str,
    seen: tuple[Runtime, SandboxSlack, str, list[str]] | None = None,
) -> None:
    """A LaunchDarkly member reviewing the request once it shows up in LaunchDarkly (and, when
    asked, what the card in the channel said while it waited)."""
    while not flags.state.ld_approvals:  # noqa: ASYNC110  (a person, polling their inbox)
        await asyncio.sleep(0.01)
    [approval_id] = flags.state.ld_approvals
    if seen is not None:
        runtime, slack, channel, cards = seen
        for _ in range(500):  # bounded: the card update is delivered while the rollback waits
            await runtime.delivery.drain()
            if "Waiting on" in str(card(slack, channel)["blocks"]):
                break
            await asyncio.sleep(0.01)
        cards.append(str(card(slack, channel)["blocks"]))
    flags.state.ld_review(approval_id, kind, "member-lead", comment)


async def _open_and_approve_here(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> str:
    text = 'flag/new-checkout --env production --severity P2 --reason "checkout errors"'
    await command(runtime, driver, channel, "U0ALICE", text)
    shown = str(card(slack, channel)["blocks"])
    assert "LaunchDarkly requires approval in production: after the approvals here" in shown
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    return shown


async def test_rollbots_approvals_then_a_launchdarkly_approval_request_applied(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, flags: SandboxFlags
) -> None:
    await _open_and_approve_here(runtime, driver, slack, channel)
    assert not flags.state.ld_approvals  # nothing goes to LaunchDarkly before rollbot's approval
    shown: list[str] = []
    seen = (runtime, slack, channel, shown)
    reviewer = asyncio.create_task(_reviewer(flags, "approve", "go ahead", seen))
    await click(runtime, driver, slack, channel, "U0FRANK", ActionId.APPROVE)
    await reviewer

    [request] = await runtime.queries.history(CHECKOUT)
    assert request.state is RequestState.COMPLETED
    [approval] = flags.state.ld_approvals.values()
    assert approval["instructions"] == [{"kind": "turnFlagOff"}]
    assert approval["comment"] == f"rollbot {request.id}: checkout errors"
    assert approval["status"] == "completed"  # applied by rollbot once approved
    flag = flags.state.ld_flags[("default", "new-checkout")]
    assert flag.environments["production"]["on"] is False
    assert flag.environments["staging"]["on"] is True
    assert [m for _, m, _ in flags.state.patches()] == ["POST", "POST"]  # request, apply
    assert set(flags.state.ld_api_versions) == {LD_API_VERSION}  # pinned on every call

    lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
    link = f"{flags.url}/projects/default/flags/new-checkout/approvals/{approval['_id']}"
    [waiting] = shown  # the card while LaunchDarkly's review was open
    assert f"*Waiting on*\\nLaunchDarkly approval request {link}" in waiting
    opened = next(line for line in lines if "is waiting on LaunchDarkly approval request" in line)
    assert link in opened
    assert "Waiting on" not in str(card(slack, channel)["blocks"])  # gone once it ended
    assert any("was applied" in line for line in lines)
    assert "rollbot rolled back to revision 2" in lines
    assert (await verify_database(runtime.engine, runtime.uow.signer.public_key)).ok


async def test_a_declined_launchdarkly_approval_request_fails_the_rollback_and_says_why(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, flags: SandboxFlags
) -> None:
    await _open_and_approve_here(runtime, driver, slack, channel)
    reviewer = asyncio.create_task(_reviewer(flags, "decline", "not during the freeze"))
    await click(runtime, driver, slack, channel, "U0FRANK", ActionId.APPROVE)
    await reviewer

    [request] = await runtime.queries.history(CHECKOUT)
    assert request.state is RequestState.FAILED
    assert "was declined (decline by member-lead: not during the freeze)" in (request.outcome or "")
    assert "the flag is unchanged" in str(card(slack, channel)["blocks"])
    assert flags.state.ld_flags[("default", "new-checkout")].environments["production"]["on"]
    actions = await audit_actions(runtime)
    assert actions.count("execution.failed") == 1
    assert "execution.succeeded" not in actions
