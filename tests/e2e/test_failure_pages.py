"""A failed rollback pages the engineering lead and the on-call engineer by name, in the
channel and directly."""

from __future__ import annotations

from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import click, command

API = target_from("deployment/api", "prod")


def _texts(messages: list[dict[str, object]]) -> list[str]:
    return [str(m.get("text", "")) + str(m.get("blocks", "")) for m in messages]


async def test_a_failed_rollback_pages_by_name(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    executor: ScriptedExecutor,
) -> None:
    executor.targets["deployment/api -n prod"].fail_with = "image pull backoff on api:1.2.3"
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "5xx"')
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)

    [page] = [t for t in _texts(slack.state.history(channel)) if "needs a person now" in t]
    assert "image pull backoff on api:1.2.3" in page
    assert "<@U0BOB>" in page  # the engineering lead
    assert "<@U0ALICE>" in page  # the on-call engineer
    assert "engineering lead and on call" in page
    for person in ("U0BOB", "U0ALICE"):
        direct = _texts(slack.state.direct_messages(person).messages)
        assert any("needs a person now" in t for t in direct), person


async def test_a_rollback_that_succeeds_pages_nobody(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "5xx"')
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)

    assert not any("needs a person now" in t for t in _texts(slack.state.history(channel)))
    assert not slack.state.direct_messages("U0BOB").messages
