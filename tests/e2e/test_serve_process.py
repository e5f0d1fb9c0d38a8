"""`rollbot serve` and `rollbot db` as real processes, the way an operator runs them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from bot.store import migrate
from sandbox.processes import served_url
from sandbox.slack.driver import SlackDriver, socket_command
from sandbox.slack.server import SandboxSlack
from tests.helpers import eventually

ROLLBOT = str(Path(sys.executable).parent / "rollbot")
SECRET = "process-signing-secret"

HEAD = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def _env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ROLLBOT_", "SLACK_"))}
    return {**keep, "ROLLBOT_LOG_FORMAT": "console", **extra}


async def _run(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        ROLLBOT, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def serving(
    tmp_path: Path, slack: SandboxSlack, *extra: str, command: str = "serve", **settings: str
) -> AsyncIterator[str]:
    """Run `rollbot serve` (or `worker`) against the sandbox until the block ends, then
    SIGTERM it. `settings` override the environment; an empty value unsets one."""
    env = _env(
        **{
            "ROLLBOT_EXECUTOR": "sandbox",
            "ROLLBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
            "SLACK_BOT_TOKEN": slack.state.token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_APP_TOKEN": slack.state.app_token,
            "ROLLBOT_SLACK_API_URL": slack.api_url,
            "ROLLBOT_AUDIT_KEY_FILE": str(tmp_path / "audit.key"),
            **settings,
        }
    )
    env = {k: v for k, v in env.items() if v}
    args = (command, "--port", "0", "--host", "127.0.0.1", *extra)
    proc = await asyncio.create_subprocess_exec(
        ROLLBOT, *args, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    url = ""
    while not url:
        line = (await asyncio.wait_for(proc.stderr.readline(), timeout=60)).decode()
        assert line, f"rollbot {command} exited before it was serving"
        url = served_url(line) or ""
    drain = asyncio.create_task(proc.stderr.read())
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
        await drain


@pytest.fixture
async def served(tmp_path: Path, slack: SandboxSlack) -> AsyncIterator[str]:
    async with serving(tmp_path, slack) as url:
        yield url


def _cards(slack: SandboxSlack, channel: str) -> list[dict[str, object]]:
    return [m for m in slack.state.history(channel) if str(m["text"]).startswith("Rollback RB-")]


async def _card_posted(slack: SandboxSlack, channel: str) -> list[dict[str, object]]:
    """The request cards, once the serving process's own delivery loop has posted one."""
    for _ in range(500):
        if _cards(slack, channel):
            break
        await asyncio.sleep(0.01)
    return _cards(slack, channel)


def _told(slack: SandboxSlack, words: str) -> bool:
    return any(words in e["text"] for e in slack.state.ephemeral_for("U0ALICE"))


async def test_socket_mode_runs_the_same_app(
    tmp_path: Path, slack: SandboxSlack, channel: str
) -> None:
    async with serving(tmp_path, slack, "--socket-mode"):
        ack = await socket_command(slack.state, "U0ALICE", channel, 'deployment/api --reason "5xx"')
        assert ack["response_type"] == "ephemeral"
        assert "Opening a rollback request for `deployment/api -n default`" in ack["text"]
        bad = await socket_command(slack.state, "U0ALICE", channel, "frobnicate")
        assert "unknown subcommand" in bad["text"]
        [card] = await _card_posted(slack, channel)
        assert "deployment/api" in str(card["text"])
        await eventually(
            lambda: _told(slack, "opened for `deployment/api -n default`"), "no answer"
        )
    assert slack.state.calls_of("apps.connections.open")


async def test_serve_answers_a_real_signed_request_and_posts_the_card(
    served: str, slack: SandboxSlack, channel: str
) -> None:
    url = served
    async with SlackDriver(url, SECRET, slack.state) as drv:
        reply = await drv.command("U0ALICE", channel, 'deployment/api -n prod --reason "5xx"')
        forged = await drv.post(
            b"command=%2Frollback&text=help", headers={"X-Slack-Signature": "v0=00"}
        )
    assert reply.status == 200
    assert "Opening a rollback request" in reply.json()["text"]
    assert forged.status == 401
    [card] = await _card_posted(slack, channel)
    assert "deployment/api -n prod" in str(card["text"])
    # the worker's answer, through the command's response_url
    await eventually(lambda: _told(slack, "opened for `deployment/api -n prod`"), "no answer")


async def test_answering_replicas_store_and_a_worker_process_does_the_work(
    tmp_path: Path, slack: SandboxSlack, channel: str
) -> None:
    # an answering replica rolls nothing back: it starts without any executor setting
    async with serving(tmp_path, slack, "--no-worker", ROLLBOT_EXECUTOR="") as url:
        async with SlackDriver(url, SECRET, slack.state) as drv:
            reply = await drv.command("U0ALICE", channel, 'deployment/api -n prod --reason "5xx"')
        assert "Opening a rollback request" in reply.json()["text"]
        async with serving(tmp_path, slack, command="worker") as health:
            assert health.endswith("/healthz")
            [card] = await _card_posted(slack, channel)  # the worker opened it and posted it
            assert "deployment/api -n prod" in str(card["text"])
            await eventually(lambda: _told(slack, "opened for `deployment/api"), "no answer")
    [opened] = [e for e in slack.state.ephemeral_for("U0ALICE") if "opened for" in e["text"]]
    assert opened  # processed once


async def test_missing_setting_stops_start_up_with_one_line(tmp_path: Path) -> None:
    code, _, err = await _run(
        "serve",
        "--port",
        "0",
        env=_env(
            ROLLBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db", SLACK_SIGNING_SECRET="s"
        ),
    )
    assert code == 2
    assert err.strip() == "rollbot: missing required setting SLACK_BOT_TOKEN"


async def test_socket_mode_needs_the_app_token(tmp_path: Path) -> None:
    code, _, err = await _run(
        "serve",
        "--socket-mode",
        env=_env(
            SLACK_BOT_TOKEN="xoxb-x",
            SLACK_SIGNING_SECRET="s",
            ROLLBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db",
        ),
    )
    assert code == 2
    assert (
        err.strip()
        == "rollbot: missing required setting SLACK_APP_TOKEN (needed for --socket-mode)"
    )


async def test_db_commands_and_refusal_of_an_unknown_schema(tmp_path: Path) -> None:
    db = tmp_path / "ops.db"
    env = _env(
        ROLLBOT_AUDIT_KEY_FILE=str(tmp_path / "audit.key"),
        ROLLBOT_DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        SLACK_BOT_TOKEN="xoxb-x",
        SLACK_SIGNING_SECRET="s",
        ROLLBOT_EXECUTOR="none",
    )
    assert (await _run("db", "upgrade", env=env))[:2] == (0, f"schema at {HEAD}\n")
    assert (await _run("db", "current", env=env))[1] == f"current {HEAD} · head {HEAD}\n"
    code, _, err = await _run("db", "downgrade", env=env)
    assert code == 2  # no revision: nothing is reverted by default
    assert "Missing argument" in err
    code, _, err = await _run("db", "downgrade", "base", env=env)
    assert code == 2
    assert err.strip() == (
        "rollbot: downgrading to base destroys the audit log: 0 audit entries and 0 signed "
        "checkpoints (reverting migration 0001). Export it first (rollbot audit export), then "
        "pass --drop-audit-log"
    )
    assert (await _run("db", "current", env=env))[1] == f"current {HEAD} · head {HEAD}\n"
    assert (await _run("db", "downgrade", "0001", env=env))[:2] == (0, "schema at 0001\n")
    code, out, _ = await _run("db", "downgrade", "base", "--drop-audit-log", "--yes", env=env)
    assert (code, out.splitlines()[-1]) == (0, "schema at base")
    assert out.startswith("This destroys 0 audit entries and 0 signed checkpoints")
    assert (await _run("db", "upgrade", env=env))[0] == 0

    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    code, _, err = await _run("serve", "--port", "0", env=env)
    assert code == 3
    assert "schema is at revision 9999, which this rollbot does not know" in err
