"""Running `rollbot serve` as a real process against the sandbox (drills, benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

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


async def start_serve(env: dict[str, str], *args: str) -> Served:
    proc = await asyncio.create_subprocess_exec(
        ROLLBOT,
        "serve",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        *args,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), timeout=60)).decode()
        if not line:
            raise RuntimeError("rollbot serve exited before it was serving")
        url = served_url(line)
        if url is not None:
            break
    served = Served(url, proc)
    # keep reading stderr so the process never blocks on a full pipe
    asyncio.get_running_loop().create_task(proc.stderr.read())
    return served


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
