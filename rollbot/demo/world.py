"""What every demo scenario shares: the people, the scene that plays clicks and shows the
channel, the world (workspace, settings, clock), and the audit check at the end."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config.settings import Settings
from bot.domain.policy import ApprovalPolicy
from bot.domain.reporting import Month
from bot.usecases.audit_export import verify_database
from bot.usecases.reports import as_markdown
from integrations.reports.html import charts, page
from rollbot.bootstrap.runtime import Runtime, build_runtime
from rollbot.demo.later import ShiftedClock
from rollbot.demo.transcript import as_shown, render_message
from sandbox.slack.driver import BotReply, SlackDriver
from sandbox.slack.state import SlackState

SIGNING_SECRET = "demo-signing-secret"
DEMO_DB = Path("rollbot-demo.db")
DEMO_KEY = Path("rollbot-demo-audit.key")
DEMO_EVIDENCE = Path("rollbot-demo-evidence")
DEMO_REPORT = Path("rollbot-demo-report.html")
PEOPLE = {
    "U0ALICE": ("alice", "Alice (on-call SRE)"),
    "U0BOB": ("bob", "Bob (engineering lead)"),
    "U0DAVE": ("dave", "Dave (incident commander)"),
    "U0VERA": ("vera", "Vera (VP Engineering)"),
    "U0FRANK": ("frank", "Frank (DevOps lead)"),
}


def say(line: str = "") -> None:
    print(line, flush=True)


class Scene:
    """The people of the demo acting in the sandbox workspace; prints what each of them sees."""

    def __init__(self, runtime: Runtime, driver: SlackDriver, ws: SlackState) -> None:
        self.runtime = runtime
        self.driver = driver
        self.ws = ws
        self._seen_ephemeral = 0

    def _name(self, user: str) -> str:
        return PEOPLE[user][0]

    def _private(self, user: str, reply: BotReply | None = None) -> None:
        texts: list[str] = []
        if reply is not None and reply.text.startswith("{"):
            texts.append(str(reply.json().get("text", "")))
        fresh = self.ws.ephemerals[self._seen_ephemeral :]
        self._seen_ephemeral = len(self.ws.ephemerals)
        texts += [e["text"] for e in fresh if e["user"] == user]
        for text in texts:
            first, *rest = as_shown(self.ws, text).splitlines()
            say(f"    (only {self._name(user)} sees) {first}")
            for line in rest if len(rest) < 6 else []:
                say(f"        {line}")

    async def types(self, user: str, channel: str, text: str) -> None:
        say(f"{self._name(user)}> /rollback {text}")
        reply = await self.driver.command(user, channel, text)
        await self.runtime.settle()
        self._private(user, reply)

    def shows_card(self, channel: str, moment: str) -> None:
        card = next(
            m for m in reversed(self.ws.history(channel)) if m["text"].startswith("Rollback RB-")
        )
        say(f"  ┌ the card in #{self.ws.channels[channel].name} {moment}:")
        for line in render_message(card):
            for part in as_shown(self.ws, line).splitlines():
                say(f"  │ {part}")
        say("  └")

    async def clicks(self, user: str, channel: str, button: str) -> None:
        card = next(
            m for m in reversed(self.ws.history(channel)) if m["text"].startswith("Rollback RB-")
        )
        element = next(
            e
            for b in card["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["text"]["text"] == button
        )
        say(f"{self._name(user)} clicks [{button}]")
        reply = await self.driver.click(user, channel, card, element["action_id"])
        await self.runtime.settle()
        self._private(user, reply if reply.text else None)


@dataclass
class DemoWorld:
    """What every scenario shares: the sandbox workspace, rollbot's settings and its clock."""

    ws: SlackState
    general: str
    settings: Settings
    clock: ShiftedClock
    url: str
    api: str

    async def runtime(self, policy: ApprovalPolicy, executors: Any) -> Runtime:
        return await build_runtime(
            self.settings, clock=self.clock, policy=policy, executors=executors
        )


async def report_audit(runtime: Runtime, settings: Settings) -> None:
    """The audit check, the evidence packs, and the month's report, as the demo's last words."""
    say("$ rollbot audit verify")
    say(f"  {(await verify_database(runtime.engine, runtime.uow.signer.public_key)).render()}")
    for pack in sorted(settings.evidence_dir.glob("*/evidence-*.tar.gz")):
        digest = hashlib.sha256(pack.read_bytes()).hexdigest()
        say(f"evidence pack {pack} sha256 {digest}")
    now = datetime.now(UTC)
    auditor = await runtime.reports.monthly(Month(year=now.year, month=now.month))
    html_report = settings.evidence_dir.parent / DEMO_REPORT
    await asyncio.to_thread(html_report.write_text, page(auditor, charts(auditor)), "utf-8")
    month = auditor.report.metrics.month
    say()
    say(f"$ rollbot report --month {month}   (the HTML page for auditors: {html_report})")
    say(as_markdown(auditor))
