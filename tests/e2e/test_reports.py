"""Reports: `/rollback report` posts the numbers and uploads the charts (two-step upload through
the sandbox); `rollbot report` prints them; a rollback's end posts a post-mortem draft."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.domain.reporting import Month
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from rollbot.cli import render_report
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import card, click, command

NOV = Month(year=2026, month=11)


async def _one_rollback(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    await command(
        runtime,
        driver,
        channel,
        "U0ALICE",
        'deployment/api -n prod --to-revision 1 --severity P1 --reason "5xx"',
    )
    clock.advance(minutes=3)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    clock.advance(minutes=2)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    clock.advance(minutes=1)  # a P1 closes when a person confirms recovery
    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.CONFIRM_RECOVERY)


async def test_the_report_command_posts_numbers_and_uploads_charts(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    await _one_rollback(runtime, driver, slack, channel, clock)
    reply = await command(runtime, driver, channel, "U0DAVE", "report 2026-11")
    assert reply == "Preparing the rollback report; it will appear here."
    [posted] = [m for m in slack.state.history(channel) if m["text"] == "Rollback report 2026-11"]
    text = str(posted["blocks"])
    assert "*incidents*: 1 (P1 1, P2 0, P3 0, P4 0)" in text
    assert "*rollback count*: 1" in text
    assert "*success rate*: 100.0 %" in text
    assert "*MTTR*: 5.0 min" in text  # the clock moved 5 minutes between request and recovery
    uploads = [m for m in slack.state.history(channel) if m.get("files")]
    [charts] = uploads
    assert sorted(f["name"] for f in charts["files"]) == ["severity.png", "trend.png"]
    assert slack.state.calls_of("files.getUploadURLExternal")  # Slack's two-step upload
    assert len(slack.state.calls_of("files.completeUploadExternal")) == 1
    for stored in slack.state.files.values():
        assert stored["content"][:8] == b"\x89PNG\r\n\x1a\n"

    bad = await command(runtime, driver, channel, "U0DAVE", "report november")
    assert "`november` is not a month such as 2026-11" in bad


async def test_a_finished_rollback_posts_a_post_mortem_draft(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    await _one_rollback(runtime, driver, slack, channel, clock)
    shown = card(slack, channel)
    drafts = [
        m
        for m in slack.state.replies(channel, shown["ts"])
        if m["text"].startswith("Post-mortem draft — RB-")
    ]
    [draft] = drafts  # in the request's thread
    text = str(draft["blocks"])
    assert "*Detection*: not known (opened by a person; no alert time)" in text
    assert "*Response* (request to decision): 3 min 0 s" in text
    assert "*Recovery* (rollback to recovery verified): 0 min 0 s" in text
    assert "approval.given" in text
    assert "*Impact* (fill in)" in text
    assert "*Action items*" in text
    clock.advance(hours=48)
    await runtime.reminders.tick()
    await runtime.settle()
    [reminder] = [
        m for m in slack.state.history(channel) if m["text"].startswith("Overdue: post mortem")
    ]
    ts = shown["ts"].replace(".", "")
    link = f"<https://sandbox.slack.server.com/archives/{channel}/p{ts}|post-mortem draft>"
    assert f"Start from the {link} in the request's thread." in str(reminder["blocks"])


async def test_every_format_tells_the_same_numbers(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    await _one_rollback(runtime, driver, slack, channel, clock)
    auditor = await runtime.reports.monthly(NOV)
    as_json = json.loads(render_report(auditor, "json"))
    assert as_json["metrics"]["rollback_count"] == 1
    assert as_json["metrics"]["mttr_minutes"] == 5.0
    assert as_json["audit"]["head"] == auditor.audit_head
    [incident] = as_json["incidents"]
    assert incident["evidence_sha256"]
    assert incident["state"] == "completed"
    markdown = render_report(auditor, "md")
    assert "| MTTR | 5.0 min |" in markdown
    assert "## Definitions" in markdown
    page = render_report(auditor, "html")
    assert 'data-metric="MTTR">5.0 min<' in page
    assert incident["evidence_sha256"] in page
    assert auditor.audit_head in page


def test_the_cli_refuses_a_bad_month() -> None:
    rollbot = str(Path(sys.executable).with_name("rollbot"))
    done = subprocess.run(
        [rollbot, "report", "--month", "2026-13"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "`2026-13` is not a month such as 2026-11" in done.stderr


async def test_the_auditors_page_explains_itself(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    """Timeline rows in words, auto-approval as such with its rule, incidents counted as
    incidents, and the commands an auditor without database access runs."""
    import io

    from PIL import Image

    await _one_rollback(runtime, driver, slack, channel, clock)
    # the same incident again, and an on-call rollback to the last version, approved by the matrix
    clock.advance(minutes=10)
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/web -n prod --severity P2 --reason "slow"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    link = "https://wiki.example/pm/7"
    first = (await runtime.reports.monthly(NOV)).incidents[0].request.id
    await command(runtime, driver, channel, "U0DAVE", f"postmortem {first} {link}")
    auditor = await runtime.reports.monthly(NOV)
    assert auditor.report.metrics.requests == 2
    assert auditor.report.metrics.incidents == 1  # both in the channel's one incident
    assert auditor.report.metrics.by_severity == {"P1": 1, "P2": 0, "P3": 0, "P4": 0}
    page = render_report(auditor, "html")
    one, two = (page[page.index(f'id="{d.request.id}"') :] for d in auditor.incidents)
    assert "bob approved as engineering lead" in one
    assert f"post-mortem recorded by dave: {link}" in one
    assert "obligation.met" not in page
    assert (
        "auto-approved: the approval matrix lets the on call (alice) approve a deployment last version rollback alone"
        in two
    )
    assert "none needed or given" not in page
    how = page[page.index('<h2 id="how-to-verify">') :]
    assert "rollbot audit export --out audit-2026-11.tar.gz" in how
    assert "rollbot audit public-key &gt; rollbot-audit.pub" in how
    assert (
        "rollbot audit verify --export audit-2026-11.tar.gz --public-key rollbot-audit.pub" in how
    )
    assert "rollbot evidence verify-addendum" in how

    # a month with nothing in it says so on its charts instead of drawing empty axes
    from integrations.reports.html import charts

    empty = await runtime.reports.monthly(Month(year=2026, month=6))
    pictures = charts(empty)
    said = {n: Image.open(io.BytesIO(png)).text["Description"] for n, png in pictures.items()}  # type: ignore[attr-defined]
    assert said == {
        "severity.png": "no data: no incidents in 2026-06",
        "trend.png": "no data: no rollbacks in these three months",
    }
    assert Image.open(io.BytesIO(charts(auditor)["severity.png"])).text["Description"] == ""  # type: ignore[attr-defined]
