"""/metrics gives an SRE what to alert on: rollbacks by outcome and kind, how long requests
take, what is open and waiting, obligations due and overdue, backlogs, the scheduler's
heartbeat and the build; read from the database at scrape time."""

from __future__ import annotations

import aiohttp

from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import click, command

OLDER = 'deployment/api -n prod --to-revision 1 --severity P2 --reason "checkout 5xx"'


async def _metrics(driver: SlackDriver) -> dict[str, float]:
    base = driver.bot_url.removesuffix("/slack/events")
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


async def test_metrics_an_sre_can_alert_on(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    await command(runtime, driver, channel, "U0ALICE", OLDER)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    waiting = await _metrics(driver)
    assert waiting['rollbot_open_requests{state="awaiting_approval"}'] == 1
    assert waiting["rollbot_approvals_pending"] == 1
    assert waiting['rollbot_build_info{version="0.1.0"}'] == 1
    assert waiting["rollbot_scheduler_last_tick_timestamp_seconds"] == 0  # not ticked yet

    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    done = await _metrics(driver)
    assert done['rollbot_rollbacks_total{kind="deployment_older_version",outcome="succeeded"}'] == 1
    assert done['rollbot_request_duration_seconds_count{state="completed"}'] == 1
    assert done["rollbot_approvals_pending"] == 0
    assert not any(k.startswith("rollbot_open_requests{") for k in done)  # nothing open
    assert done['rollbot_obligations_due{kind="post_mortem"}'] == 1
    assert 'rollbot_obligations_overdue{kind="post_mortem"}' not in done
    assert done["rollbot_inbox_waiting"] == 0

    clock.advance(hours=49)  # the post-mortem is due within 48 hours of the rollback
    await runtime.due.tick()
    late = await _metrics(driver)
    assert late['rollbot_obligations_overdue{kind="post_mortem"}'] == 1
    assert late["rollbot_scheduler_last_tick_timestamp_seconds"] > 0
