"""Slash-command ack latency at fixed offered rates, and rollbot's resident memory.

Three servers answer the same signed `/rollback` commands from a load process of their own:
`rollbot serve` on PostgreSQL (it stores each command in its inbox in one statement, answers,
and opens the request behind the answer), and two bare Bolt apps that only ack, with Bolt's
default runner and with process_before_response=True. Afterwards the bench counts the inbox's
rows: an answer for a command that was not stored would be a lie, and fails the figure.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from bench.report import Figure
from bot.audit.keys import load_signing_key
from sandbox.processes import clean_env, rollbot_serve
from sandbox.slack.driver import command_fields
from sandbox.slack.server import SandboxSlack
from sandbox.slack.state import SlackState

SECRET = "bench-signing-secret"
RATES = (50, 200, 400)
SECONDS = 5.0
PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/"


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _load(url: str, fields: Path, rate: float, seconds: float) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.loadgen",
        url,
        SECRET,
        str(fields),
        str(rate),
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    result = json.loads(out)
    assert result["failures"] == 0, f"{result['failures']} commands were not answered with 200"
    latencies: list[float] = result["latencies_ms"]
    return latencies


@asynccontextmanager
async def _bare(api: str, token: str, inline: bool) -> AsyncIterator[str]:
    args = [sys.executable, "-m", "bench.bare_bolt", api, token, SECRET]
    proc = await asyncio.create_subprocess_exec(
        *args, *(["--inline"] if inline else []), stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    line = (await asyncio.wait_for(proc.stderr.readline(), timeout=30)).decode()
    try:
        yield line.split()[-1]
    finally:
        proc.terminate()
        await proc.wait()


@asynccontextmanager
async def _database() -> AsyncIterator[str]:
    name = f"rollbot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield PG + name
    finally:
        admin = await asyncpg.connect(
            host="127.0.0.1", port=5432, user="postgres", database="postgres"
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _write_commands(path: Path, ws: SlackState, channel: str, count: int) -> None:
    """Signed-to-be `/rollback` commands, one JSON object a line, each with its own trigger."""
    text = 'deployment/api -n prod --severity P2 --reason "bench: 5xx above 5%"'
    with path.open("w", encoding="utf-8") as out:
        for _ in range(count):
            out.write(json.dumps(command_fields(ws, "U0ALICE", channel, text)) + "\n")


async def _profile(url: str, loads: dict[int, Path]) -> dict[int, tuple[float, float]]:
    """`loads[0]` warms up (first-request costs: auth.test, pools); then each rate in turn, each
    with commands of its own, so no trigger id repeats (a repeat is a Slack retry)."""
    await _load(url, loads[0], 20, 1)
    found = {}
    for rate in RATES:
        latencies = await _load(url, loads[rate], rate, SECONDS)
        found[rate] = (statistics.median(latencies), _quantile(latencies, 0.99))
    return found


Profile = dict[int, tuple[float, float]]


def _figures(ours: Profile, default: Profile, inline: Profile, who: str) -> list[Figure]:
    """p50 and p99 at each rate, against both bare Bolt runners."""
    figures: list[Figure] = []
    for rate in RATES:
        p50, p99 = ours[rate]
        d50, d99 = default[rate]
        i50, i99 = inline[rate]
        figures += [
            Figure(
                f"ack p50 at {rate}/s, {who}",
                p50,
                d50,
                "ms",
                "bare Bolt, default runner",
            ),
            Figure(
                f"ack p99 at {rate}/s, {who}",
                p99,
                d99,
                "ms",
                "bare Bolt, default runner",
                "below 0.5x",
                p99 < 0.5 * d99,
            ),
            Figure(
                f"ack p50 at {rate}/s, {who}",
                p50,
                i50,
                "ms",
                "bare Bolt, process_before_response",
            ),
            Figure(
                f"ack p99 at {rate}/s, {who}",
                p99,
                i99,
                "ms",
                "bare Bolt, process_before_response",
                "within 3x",
                p99 <= 3 * i99,
            ),
        ]
    return figures


def _memory(idle: float, loaded: float, total_requests: int) -> list[Figure]:
    return [
        Figure(
            "rollbot serve resident memory, idle",
            idle,
            None,
            "MiB",
            target="under 150 MiB",
            met=idle < 150,
        ),
        Figure(
            f"rollbot serve resident memory after {total_requests:,} commands",
            loaded,
            idle,
            "MiB",
            "idle",
            "under 150 MiB",
            loaded < 150,
        ),
    ]


async def count(database_url: str, query: str) -> int:
    """One count from the bench's database, outside rollbot."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def _stored(database_url: str) -> int:
    return await count(database_url, "SELECT count(*) FROM inbox WHERE kind = 'slack'")


def serve_env(
    database_url: str, ws: SlackState, api: str, folder: Path, **extra: str
) -> dict[str, str]:
    """`rollbot serve` on the bench's database and sandbox Slack, with a key made first (a
    shared database never gets a key nobody configured)."""
    load_signing_key(key_b64=None, path=folder / "audit.key", create=True)
    return clean_env(
        ROLLBOT_DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=ws.token,
        SLACK_SIGNING_SECRET=SECRET,
        ROLLBOT_SLACK_API_URL=api,
        ROLLBOT_AUDIT_KEY_FILE=str(folder / "audit.key"),
        ROLLBOT_LOG_LEVEL="warning",
        **{"ROLLBOT_EXECUTOR": "none", **extra},
    )


async def _answering_only(
    env: dict[str, str], ws: SlackState, channel: str, folder: Path
) -> tuple[Profile, int]:
    """An answering replica alone (its workers run elsewhere): the same load, fresh ids."""
    async with _database() as database_url:
        env = {**env, "ROLLBOT_DATABASE_URL": database_url}
        fresh = {rate: folder / f"thin-{rate}.jsonl" for rate in (0, *RATES)}
        for rate, path in fresh.items():
            _write_commands(path, ws, channel, int(rate * SECONDS) if rate else 20)
        async with rollbot_serve(env, "--no-worker") as served:
            thin = await _profile(served.url, fresh)
            return thin, await _stored(database_url)


async def measure(total_requests: int = 10_000) -> list[Figure]:
    slack = SandboxSlack()
    api = await slack.start()
    ws = slack.state
    ws.add_user("U0ALICE", "alice")
    channel = ws.add_channel("inc-20261127-api", ("U0ALICE",))
    folder = Path(tempfile.mkdtemp(prefix="rollbot-bench-ack-"))
    loads = {rate: folder / f"commands-{rate}.jsonl" for rate in (0, *RATES)}
    for rate, path in loads.items():
        _write_commands(path, ws, channel, int(rate * SECONDS) if rate else 20)
    try:
        async with _bare(api, ws.token, inline=False) as url:
            default = await _profile(url, loads)
        async with _bare(api, ws.token, inline=True) as url:
            inline = await _profile(url, loads)
        async with _database() as database_url:
            env = serve_env(database_url, ws, api, folder, ROLLBOT_EXECUTOR="sandbox")
            async with rollbot_serve(env) as served:
                await asyncio.sleep(1)
                idle = served.rss_mib()
                ours = await _profile(served.url, loads)
                sent = 20 + sum(int(r * SECONDS) for r in RATES)
                more = folder / "more.jsonl"
                _write_commands(more, ws, channel, max(0, total_requests - sent))
                if total_requests > sent:
                    await _load(served.url, more, 0, total_requests - sent)
                await asyncio.sleep(2)  # let the outbox drain what the load queued
                loaded = served.rss_mib()
                stored = await _stored(database_url)
        thin, thin_stored = await _answering_only(env, ws, channel, folder)
    finally:
        await slack.stop()
    answered = max(total_requests, sent)
    return [
        *_figures(ours, default, inline, "rollbot serve (its worker in the process)"),
        _kept(stored, answered, ""),
        *_figures(thin, default, inline, "rollbot serve --no-worker (answering only)"),
        _kept(thin_stored, sent, ", serve --no-worker"),
        *_memory(idle, loaded, total_requests),
    ]


def _kept(stored: int, answered: int, who: str) -> Figure:
    """An answer for a command that was not stored would be a lie."""
    return Figure(
        f"commands answered 200 and found in the inbox, of {answered:,}{who}",
        stored,
        answered,
        "commands",
        "answered",
        "every one",
        stored == answered,
    )
