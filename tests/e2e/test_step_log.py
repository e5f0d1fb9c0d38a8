"""The log tells the people on call what happened to a rollback: one structured event per step,
each with the request, its target and who acted; nothing secret; the scheduler's routine and
libraries' chatter only at debug level."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import structlog
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from structlog.testing import capture_logs

from bot.config.logs import CHATTY, configure_logging, redact_secrets
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import click, command


def _steps(logs: list[dict[str, Any]], request_id: str) -> list[str]:
    return [e["event"] for e in logs if e.get("request") == request_id]


async def test_a_rollback_leaves_one_log_event_per_step(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    with capture_logs() as logs:
        text = 'deployment/api -n prod --severity P1 --reason "down, password=hunter2"'
        await command(runtime, driver, channel, "U0ALICE", text)
        await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    [request] = await runtime.queries.history(target_from("deployment/api", "prod"))
    steps = _steps(logs, request.id)
    for wanted in (
        "request.opened",
        "decision.rollback",
        "execution.started",
        "execution.step",
        "execution.succeeded",
    ):
        assert wanted in steps, (wanted, steps)
    assert steps.index("request.opened") < steps.index("execution.started")
    assert steps.index("execution.started") < steps.index("execution.succeeded")
    opened = next(e for e in logs if e["event"] == "request.opened")
    assert opened["target"] == "deployment/api -n prod"
    assert opened["log_level"] == "info"
    decided = next(e for e in logs if e["event"] == "decision.rollback")
    assert decided["actor"] == "alice"
    # what leaves the process passes configure_logging's redaction first
    assert "hunter2" in str(logs)
    assert "hunter2" not in str([redact_secrets(None, "info", dict(e)) for e in logs])


def test_library_chatter_is_heard_only_at_debug_level() -> None:
    try:
        configure_logging("json", "info")
        assert all(logging.getLogger(name).level == logging.ERROR for name in CHATTY)
        configure_logging("json", "debug")
        assert all(logging.getLogger(name).level == logging.DEBUG for name in CHATTY)
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
        for name in CHATTY:
            logging.getLogger(name).setLevel(logging.NOTSET)


async def test_bolt_keeps_quiet_only_about_the_environment_token(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """Bolt warns at every start that SLACK_BOT_TOKEN in the environment goes unused (our
    client is tokenless on purpose); that one line is dropped, every other warning is heard."""
    bolt_log = logging.getLogger("rollbot.bolt")
    with caplog.at_level(logging.WARNING, logger="rollbot.bolt"):
        bolt_log.warning(warning_client_prioritized_and_token_skipped())
        bolt_log.warning("listener failed")
    said = [r.getMessage() for r in caplog.records if r.name == "rollbot.bolt"]
    assert said == ["listener failed"]


async def test_a_refused_request_is_logged_with_who_and_why(
    runtime: Runtime, driver: SlackDriver, channel: str
) -> None:
    """The person is told at once; whoever reads the log later sees the refusal too."""
    with capture_logs() as logs:
        text = 'deployment/nope -n prod --reason "5xx"'
        said = await command(runtime, driver, channel, "U0ALICE", text)
    [refused] = [e for e in logs if e["event"] == "request.refused"]
    assert refused["reason"] in said
    assert refused["actor"] == "alice"
    assert refused["kind"] == "command"
    assert refused["channel"] == f"channel:{channel}"
    assert refused["log_level"] == "info"
    assert await runtime.queries.history(target_from("deployment/nope", "prod")) == []
