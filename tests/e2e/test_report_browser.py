"""The auditor's HTML page in a real browser (Debian's chromium, headless): the numbers it shows
are the JSON report's, and it renders to a screenshot."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.domain.reporting import Month
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from rollbot.cli import render_report
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.browser import chromium
from tests.e2e.workflow import click, command

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class _Shown(HTMLParser):
    """The values of the cells marked data-metric, and the audit head paragraph."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict[str, str] = {}
        self._metric: str | None = None
        self.audit_head = ""
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if "data-metric" in named:
            self._metric = named["data-metric"]
        if named.get("id") == "audit-head":
            self._in_head = True

    def handle_endtag(self, tag: str) -> None:
        self._metric = None
        if tag == "p":
            self._in_head = False

    def handle_data(self, data: str) -> None:
        if self._metric:
            self.metrics[self._metric] = self.metrics.get(self._metric, "") + data
        if self._in_head:
            self.audit_head += data


async def test_the_auditor_page_shows_the_json_reports_numbers(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    browser = chromium()
    text = 'deployment/api -n prod --to-revision 1 --severity P1 --reason "5xx"'
    await command(runtime, driver, channel, "U0ALICE", text)
    clock.advance(minutes=4)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    auditor = await runtime.reports.monthly(Month(year=2026, month=11), deployments=40)
    page = tmp_path / "report-2026-11.html"
    page.write_text(render_report(auditor, "html"), encoding="utf-8")
    data = json.loads(render_report(auditor, "json"))

    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    dumped = await asyncio.to_thread(
        subprocess.run,
        [browser, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    dom = dumped.stdout
    shown = _Shown()
    shown.feed(dom)
    m = data["metrics"]
    assert shown.metrics["rollback-count"] == str(m["rollback_count"])
    assert shown.metrics["MTTR"] == f"{m['mttr_minutes']:.1f} min"
    assert shown.metrics["success-rate"] == f"{m['success_rate'] * 100:.1f} %"
    assert shown.metrics["rollback-rate"] == f"{m['rollback_rate'] * 100:.1f} %"
    assert shown.metrics["incidents"].startswith(f"{m['incidents']} (P1 {m['by_severity']['P1']},")
    assert shown.metrics["SLA-breaches"] == str(m["sla_breaches"])
    assert data["audit"]["head"] in shown.audit_head
    assert m["mttr_minutes"] == 4.0  # and the numbers are the history's: 4 minutes to recover

    screenshot = tmp_path / "report-2026-11.png"
    await asyncio.to_thread(
        subprocess.run,
        [browser, *flags, f"--screenshot={screenshot}", "--window-size=1200,2000", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a rendered page, not an empty canvas
    keep = os.environ.get("ROLLBOT_KEEP_SCREENSHOT")
    if keep:  # for a person to look at: ROLLBOT_KEEP_SCREENSHOT=path make test
        shutil.copy(screenshot, keep)
        shutil.copy(page, Path(keep).with_suffix(".html"))
