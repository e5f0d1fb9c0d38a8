"""What every demo scenario shares: the people, the scene that plays clicks and shows the
channel, the world (workspace, settings, clock), and the audit check at the end."""

from __future__ import annotations

import asyncio
import hashlib
import shlex
import shutil
import sys
from dataclasses import dataclass
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
from rollbot.demo.narration import News, card_lines, plain
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
    "U0CAROL": ("carol", "Carol (DBA)"),
}


def say(line: str = "") -> None:
    print(line, flush=True)


class Scene:
    """The people of the demo acting in the sandbox workspace; prints what each of them sees."""

    def __init__(
        self, runtime: Runtime, driver: SlackDriver, ws: SlackState, *, verbose: bool = False
    ) -> None:
        self.runtime = runtime
        self.driver = driver
        self.ws = ws
        self.verbose = verbose
        self.news = News(ws)
        self._seen_ephemeral = 0

    def tell(self, channel: str) -> None:
        """What the channel shows that was not shown yet, a line a message or reply."""
        for line in self.news.of(channel):
            say(line)

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
            first, *rest = plain(self.ws, text).splitlines() or [""]
            say(f"    (only {self._name(user)} sees) {first}")
            for line in rest if self.verbose and len(rest) < 6 else []:
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
        if self.verbose:
            for line in render_message(card):
                for part in as_shown(self.ws, line).splitlines():
                    say(f"  │ {part}")
        else:
            for line in card_lines(self.ws, card):
                say(f"  │ {line}")
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
    verbose: bool = False

    async def runtime(self, policy: ApprovalPolicy, executors: Any) -> Runtime:
        return await build_runtime(
            self.settings, clock=self.clock, policy=policy, executors=executors
        )


def _rollbot() -> str:
    """How to call the rollbot this demo runs from, as typed in this directory."""
    found = Path(sys.executable).parent / "rollbot"
    if not found.exists():
        return shutil.which("rollbot") or "rollbot"
    try:
        return f"./{found.relative_to(Path.cwd())}"
    except ValueError:
        return str(found)


async def inspect_commands(runtime: Runtime, world: DemoWorld, request_id: str) -> None:
    """The audit check and the evidence, then the exact commands that inspect what the demo
    left, with the variables they need."""
    settings = world.settings
    verdict = await verify_database(runtime.engine, runtime.uow.signer.public_key)
    say(f"8. The audit log verifies: {verdict.render()}")
    pack = settings.evidence_dir / request_id / f"evidence-{request_id}.tar.gz"
    say(f"   Evidence pack {pack}, sha256 {hashlib.sha256(pack.read_bytes()).hexdigest()}")
    now = world.clock.now()
    auditor = await runtime.reports.monthly(Month(year=now.year, month=now.month))
    html_report = settings.evidence_dir.parent / DEMO_REPORT
    await asyncio.to_thread(html_report.write_text, page(auditor, charts(auditor)), "utf-8")
    if world.verbose:
        say()
        say(as_markdown(auditor))
    addenda = sorted(settings.evidence_dir.glob(f"{request_id}/addenda/recovery-*/addendum.json"))
    rb, q = _rollbot(), shlex.quote
    commands = [
        f"export ROLLBOT_DATABASE_URL={q(world.url)} "
        f"ROLLBOT_AUDIT_KEY_FILE={q(str(settings.audit_key_file))} "
        f"ROLLBOT_EVIDENCE_DIR={q(str(settings.evidence_dir))}",
        f"{rb} audit verify",
        f"{rb} requests show {request_id}",
        f"tar -tzf {q(str(pack))}",
        f"{rb} report --month {auditor.report.metrics.month} --format html --out {q(str(html_report))}",
    ]
    if addenda:
        commands += [
            f"{rb} audit public-key > rollbot-demo-audit.pub",
            f"{rb} evidence verify-addendum {q(str(addenda[-1]))} --pack {q(str(pack))} "
            "--public-key rollbot-demo-audit.pub",
        ]
    say()
    say("Inspect what the demo left (the database, its audit key, the evidence, the report):")
    for command in commands:
        say(f"  $ {command}")
    say("Or act in the incident yourself, as any of the team, in a workspace in your browser:")
    say(f"  $ {rb} try")
