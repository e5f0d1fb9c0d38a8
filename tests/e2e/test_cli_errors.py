"""Ordinary mistakes at the terminal get one line naming the fix, never a traceback, and leave
nothing behind: the real `rollbot` command, run as an operator runs it."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path

import pytest

from sandbox.processes import ROLLBOT, clean_env
from sandbox.slack.server import SandboxSlack
from tests.conftest import PG_HOST, PG_PORT, PG_USER, fresh_postgres_database

SLACK = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


async def _rollbot(cwd: Path, *args: str, **env: str) -> tuple[int, list[str]]:
    proc = await asyncio.create_subprocess_exec(
        ROLLBOT,
        *args,
        cwd=cwd,
        env=clean_env(**{**SLACK, "ROLLBOT_LOG_FORMAT": "console", **env}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    lines = (out + err).decode().strip().splitlines()
    return proc.returncode, lines


def _pg(database: str, port: int = PG_PORT, scheme: str = "postgresql+asyncpg") -> str:
    return f"{scheme}://{PG_USER}@{PG_HOST}:{port}/{database}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            _pg("rollbot_no_such_db"),
            'rollbot: database "rollbot_no_such_db" does not exist on 127.0.0.1:'
            f"{PG_PORT}: create it (createdb rollbot_no_such_db) or fix ROLLBOT_DATABASE_URL",
        ),
        (
            "postgresql+asyncpg://postgres@127.0.0.1:1/test",
            "rollbot: cannot reach the database at 127.0.0.1:1 (connection refused): check "
            "ROLLBOT_DATABASE_URL and that the server is running",
        ),
        (
            _pg("test") + "?sslmode=sometimes",
            "rollbot: ROLLBOT_DATABASE_URL has sslmode=sometimes; use one of disable, allow, "
            "prefer, require, verify-ca, verify-full",
        ),
        (
            "mysql://root@127.0.0.1/rollbot",
            "rollbot: ROLLBOT_DATABASE_URL names mysql; rollbot runs on PostgreSQL or SQLite",
        ),
    ],
)
@pytest.mark.postgres
async def test_a_database_that_cannot_be_used_is_one_line(
    tmp_path: Path, url: str, says: str
) -> None:
    code, lines = await _rollbot(tmp_path, "db", "upgrade", ROLLBOT_DATABASE_URL=url)
    assert (code, lines) == (3, [says])


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
@pytest.mark.postgres
async def test_libpq_style_urls_and_their_tls_options_are_accepted(
    tmp_path: Path, scheme: str
) -> None:
    async with fresh_postgres_database() as made:
        database = made.rsplit("/", 1)[1]
        url = _pg(database, scheme=scheme) + "?sslmode=disable"
        code, lines = await _rollbot(tmp_path, "db", "upgrade", ROLLBOT_DATABASE_URL=url)
        assert code == 0, lines
        assert lines[-1].startswith("schema at ")


async def test_commands_before_db_upgrade_say_so_and_create_nothing(tmp_path: Path) -> None:
    pem = tmp_path / "audit.pem"
    key = await _rollbot(tmp_path, "audit", "keygen", "--out", str(tmp_path / "k.key"))
    assert key[0] == 0, key
    shown = await _rollbot(
        tmp_path, "audit", "public-key", ROLLBOT_AUDIT_KEY_FILE=str(tmp_path / "k.key")
    )
    pem.write_text("\n".join(shown[1]) + "\n")
    code, lines = await _rollbot(tmp_path, "audit", "verify", "--public-key", str(pem))
    assert (code, lines) == (
        3,
        [
            "rollbot: no database at rollbot.db: run `rollbot db upgrade` to create it, or "
            "point ROLLBOT_DATABASE_URL at rollbot's database"
        ],
    )
    assert not (tmp_path / "rollbot.db").exists()  # nothing was created

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    code, lines = await _rollbot(
        tmp_path, "report", ROLLBOT_DATABASE_URL=f"sqlite+aiosqlite:///{empty}"
    )
    assert (code, lines) == (
        3,
        [
            "rollbot: the database has no rollbot schema yet: run `rollbot db upgrade` first, "
            "or point ROLLBOT_DATABASE_URL at rollbot's database"
        ],
    )


async def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    port = _free_port()
    holder = await asyncio.start_server(lambda r, w: None, "127.0.0.1", port)
    try:
        code, lines = await _rollbot(
            tmp_path,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            ROLLBOT_AUDIT_KEY_FILE=str(tmp_path / "audit.key"),
            ROLLBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
            ROLLBOT_EXECUTOR="sandbox",
        )
    finally:
        holder.close()
    assert code == 3
    assert lines[-1] == (
        f"rollbot: port {port} on 127.0.0.1 is already in use: stop what holds it, or pass --port"
    )
    assert not any("Traceback" in line for line in lines)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"ROLLBOT_KUBECONFIG": "missing/kubeconfig"},
            "rollbot: ROLLBOT_KUBECONFIG points to missing/kubeconfig, which does not exist",
        ),
        (
            {},
            "rollbot: ROLLBOT_EXECUTOR=kubernetes needs cluster credentials: set "
            "ROLLBOT_KUBECONFIG to a kubeconfig file, or run rollbot in a pod with a service "
            "account",
        ),
    ],
)
async def test_the_kubernetes_executor_without_credentials_refuses_to_start(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    code, lines = await _rollbot(
        tmp_path,
        "serve",
        ROLLBOT_EXECUTOR="kubernetes",
        ROLLBOT_AUDIT_KEY_FILE=str(tmp_path / "audit.key"),
        ROLLBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
        **env,
    )
    assert (code, lines[-1:]) == (3, [says])
    assert not any("Traceback" in line for line in lines)


async def test_version_and_debug(tmp_path: Path) -> None:
    code, lines = await _rollbot(tmp_path, "--version")
    assert code == 0
    assert lines == ["rollbot 0.1.0"]
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
    code, lines = await _rollbot(tmp_path, "--debug", "db", "upgrade", ROLLBOT_DATABASE_URL=url)
    assert code == 3
    assert any(line.startswith("Traceback") for line in lines)  # --debug shows it
    assert lines[-1].startswith("rollbot: cannot reach the database at 127.0.0.1:1")


async def test_serve_refuses_a_token_slack_refuses_and_an_unset_executor(
    tmp_path: Path, slack: SandboxSlack
) -> None:
    common = {
        "ROLLBOT_AUDIT_KEY_FILE": str(tmp_path / "audit.key"),
        "ROLLBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
        "ROLLBOT_SLACK_API_URL": slack.api_url,
    }
    code, lines = await _rollbot(tmp_path, "serve", **common, ROLLBOT_EXECUTOR="sandbox")
    assert (code, lines[-1]) == (
        3,
        "rollbot: Slack refused SLACK_BOT_TOKEN (invalid_auth): use the app's Bot User OAuth "
        "Token (xoxb-…) from its OAuth & Permissions page",
    )
    code, lines = await _rollbot(tmp_path, "serve", **common, SLACK_BOT_TOKEN=slack.state.token)
    assert (code, lines[-1]) == (
        3,
        "rollbot: ROLLBOT_EXECUTOR is not set: set it to kubernetes to roll back for real, or "
        "to none to start a bot that refuses every target",
    )
