"""`make demo`: a whole incident against the in-repo sandbox, printed as the channel shows it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bot.app import build_runtime
from bot.settings import load_settings
from sandbox.driver import SlackDriver
from sandbox.slack import SandboxSlack
from sandbox.transcript import channel_transcript

SIGNING_SECRET = "demo-signing-secret"
DEMO_DB = Path("rollbot-demo.db")


def _say(line: str = "") -> None:
    print(line, flush=True)


def _reply_text(reply: Any) -> str:
    body = reply.json() if reply.text.startswith("{") else None
    return str(body.get("text", "")) if isinstance(body, dict) else reply.text


async def run_demo(scenario: str = "deployment") -> None:
    if scenario != "deployment":
        raise SystemExit(f"rollbot: unknown demo scenario {scenario!r}; available: deployment")
    url = os.environ.get("ROLLBOT_DATABASE_URL")
    if url is None:
        for leftover in DEMO_DB.parent.glob(DEMO_DB.name + "*"):
            leftover.unlink()
        url = f"sqlite+aiosqlite:///{DEMO_DB}"
    slack = SandboxSlack()
    api = await slack.start()
    ws = slack.state
    ws.add_user("U0ALICE", "alice", real_name="Alice (on-call SRE)")
    channel = ws.add_channel("inc-20261127-api", ("U0ALICE",))
    settings = load_settings(
        database_url=url,
        slack_bot_token=ws.token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=api,
    )
    runtime = await build_runtime(settings)
    try:
        events = await runtime.serve_http()
        _say(f"rollbot demo · database {url} · sandbox Slack {api} · bot {events}")
        _say()
        async with SlackDriver(events, SIGNING_SECRET, ws) as alice:

            async def types(text: str, **kw: Any) -> None:
                _say(f"alice> /rollback {text}")
                reply = await alice.command("U0ALICE", channel, text, **kw)
                lines = _reply_text(reply).splitlines()
                _say(f"  (only alice sees, HTTP {reply.status}) {lines[0]}")
                for line in lines[1:] if len(lines) < 4 else []:
                    _say(f"      {line}")

            await types("help")
            await types("deployment/api -n prod --severity P1")
            await types('deployment/api -n prod --severity P1 --reason "5xx at 38% since v1.3.0"')
            body = alice.command_body(
                "U0ALICE", channel, 'deployment/web -n prod --reason "checkout broken"'
            )
            _say(
                'alice> /rollback deployment/web -n prod --reason "checkout broken"   (Slack delivers it twice)'
            )
            first = await alice.post(body)
            again = await alice.post(body, retry_num=1)
            _say(f"  (first delivery) {_reply_text(first)}")
            _say(f"  (Slack's retry)  {_reply_text(again)}")
            await types("list")
        await runtime.delivery.drain()
        _say()
        _say(channel_transcript(ws, channel))
    finally:
        await runtime.close()
        await slack.stop()
