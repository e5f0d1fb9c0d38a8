"""The answer while everything behind it is slow: the sandbox Kubernetes API takes 5 s per call
and the sandbox Slack 2 s per call, and signed `/rollback` commands arrive at 50/s.

The answer must not wait on either (target: p99 under 100 ms), and every command must still
open its request behind it (each on its own deployment, typed in its own incident channel, so
one open request per target refuses none of them). The baseline is the same rollbot, same
load, with both fakes answering at once.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.ack import _database, _load, _quantile, count, serve_env
from bench.report import Figure
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube
from sandbox.processes import rollbot_serve
from sandbox.slack.driver import command_fields
from sandbox.slack.server import SandboxSlack
from sandbox.slack.state import SlackState

RATE = 50
SECONDS = 2.0
KUBE_SECONDS = 5.0
SLACK_SECONDS = 2.0
OPEN_WITHIN = 600.0  # how long the bench waits for the last request to open


def _commands(path: Path, ws: SlackState, targets: range, tag: str) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in targets:
            channel = ws.add_channel(f"inc-bench-{tag}-{i}", ("U0ALICE",))
            text = f'deployment/app-{i} -n prod --severity P2 --reason "bench: 5xx above 5%"'
            out.write(json.dumps(command_fields(ws, "U0ALICE", channel, text)) + "\n")


async def _opened(database_url: str) -> int:
    return await count(database_url, "SELECT count(*) FROM rollback_requests")


async def _run(slow: bool, count: int) -> tuple[list[float], int, float]:
    """Ack latencies, requests opened, and seconds from the first command to the last opened."""
    slack, kube = SandboxSlack(), SandboxKube(rollout_seconds=0.2)
    api = await slack.start()
    await kube.start()
    ws = slack.state
    ws.add_user("U0ALICE", "alice")
    for i in range(count + 1):
        await release_app(kube, f"app-{i}", (f"app:{i}.1", f"app:{i}.2"))
    folder = Path(tempfile.mkdtemp(prefix="rollbot-bench-slow-"))
    warm, fields = folder / "warm.jsonl", folder / "commands.jsonl"
    _commands(warm, ws, range(count, count + 1), "warm")  # a target the load does not use
    _commands(fields, ws, range(count), "load")
    try:
        async with _database() as database_url:
            env = serve_env(
                database_url,
                ws,
                api,
                folder,
                ROLLBOT_EXECUTOR="kubernetes",
                ROLLBOT_KUBECONFIG=str(kube.write_kubeconfig(folder / "kubeconfig")),
                ROLLBOT_KUBE_REQUEST_TIMEOUT_SECONDS=str(KUBE_SECONDS * 3),
            )
            async with rollbot_serve(env) as served:
                await _load(served.url, warm, 0, 1)
                for _ in range(300):  # the warm-up request opened: pools and tokens are warm
                    if await _opened(database_url) >= 1:
                        break
                    await asyncio.sleep(0.1)
                if slow:
                    kube.faults.latency, ws.latency = KUBE_SECONDS, SLACK_SECONDS
                started = time.monotonic()
                latencies = await _load(served.url, fields, RATE, count / RATE)
                opened = 0
                while time.monotonic() - started < OPEN_WITHIN:
                    opened = await _opened(database_url) - 1
                    if opened >= count:
                        break
                    await asyncio.sleep(0.5)
                return latencies, opened, time.monotonic() - started
    finally:
        await slack.stop()
        await kube.stop()


async def measure(quick: bool = False) -> list[Figure]:
    count = int(RATE * (0.4 if quick else SECONDS))
    fast, fast_opened, fast_took = await _run(False, count)
    slow, slow_opened, slow_took = await _run(True, count)
    p99, base99 = _quantile(slow, 0.99), _quantile(fast, 0.99)
    return [
        Figure(
            f"ack p50 at {RATE}/s, Kubernetes {KUBE_SECONDS:.0f} s and Slack {SLACK_SECONDS:.0f} s "
            "per call",
            statistics.median(slow),
            statistics.median(fast),
            "ms",
            "both answering at once",
        ),
        Figure(
            f"ack p99 at {RATE}/s, Kubernetes {KUBE_SECONDS:.0f} s and Slack {SLACK_SECONDS:.0f} s "
            "per call",
            p99,
            base99,
            "ms",
            "both answering at once",
            "under 100 ms",
            p99 < 100,
        ),
        Figure(
            f"requests opened of {count}, slow Kubernetes and Slack (last after {slow_took:.0f} s)",
            slow_opened,
            fast_opened,
            "requests",
            f"both answering at once, last after {fast_took:.0f} s",
            f"all {count}",
            slow_opened == count,
        ),
    ]
