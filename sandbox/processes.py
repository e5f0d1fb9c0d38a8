"""Running `rollbot serve` as a real process against the sandbox (drills, benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROLLBOT = str(Path(sys.executable).with_name("rollbot"))


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ROLLBOT_/SLACK_ setting, plus `extra`."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ROLLBOT_", "SLACK_"))}
    return {**keep, "ROLLBOT_LOG_FORMAT": "console", **extra}


@dataclass
class Served:
    url: str
    process: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mib(self) -> float:
        """Resident memory now, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS in /proc status")


def served_url(line: str) -> str | None:
    """The URL in the log event a rollbot process writes once it listens (JSON or console)."""
    if "rollbot.serving" not in line and "rollbot.working" not in line:
        return None
    if line.lstrip().startswith("{"):
        return str(json.loads(line)["url"])
    found = re.search(r"\burl=(\S+)", line)
    return found.group(1) if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start_serve(env: dict[str, str], *args: str) -> Served:
    """Start `rollbot serve` on a free port and wait until /healthz answers: whatever
    ROLLBOT_LOG_LEVEL the drill or bench chose, the address does not depend on a log line."""
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        ROLLBOT,
        "serve",
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        *args,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    # keep reading stderr so the process never blocks on a full pipe
    said = asyncio.get_running_loop().create_task(proc.stderr.read())
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(600):  # bounded: 60 s
            if proc.returncode is not None or said.done():
                await proc.wait()
                raise RuntimeError(
                    f"rollbot serve exited before it was serving: {(await said).decode()[-500:]}"
                )
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return Served(f"{base}/slack/events", proc)
            await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError("rollbot serve did not answer /healthz within 60 s")


@contextlib.asynccontextmanager
async def rollbot_serve(env: dict[str, str], *args: str) -> AsyncIterator[Served]:
    """`rollbot serve` until the block ends, then SIGTERM (if it is still alive)."""
    served = await start_serve(env, *args)
    try:
        yield served
    finally:
        if served.process.returncode is None:
            served.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(served.process.wait(), timeout=30)
            if served.process.returncode is None:
                served.process.kill()
