"""`make bench`: every benchmark, each against its baseline measured in the same run.

    python -m bench.run [--quick]

--quick shrinks the audit chain and the memory run (for trying the harness, not for figures).
"""

from __future__ import annotations

import asyncio
import platform
import sys
from datetime import UTC, datetime

from bench import ack, audit_verify, opening, overhead, scheduler_tick, slow_deps
from bench.report import Figure, render


async def main(quick: bool) -> None:
    print(
        f"rollbot bench · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.platform()} · "
        f"{platform.python_implementation()} {platform.python_version()}",
        flush=True,
    )
    sections: list[tuple[str, object]] = [
        (
            "1. slash command ack latency, commands stored, resident memory",
            ack.measure(1_300 if quick else 10_000),
        ),
        ("2. ack while Kubernetes and Slack are slow", slow_deps.measure(quick)),
        ("3. opening throughput", opening.measure(quick)),
        ("4. rollback overhead", overhead.measure()),
        ("5. audit verify throughput", audit_verify.measure(100_000 if quick else 1_000_000)),
        ("6. scheduler tick", scheduler_tick.measure()),
    ]
    for title, job in sections:
        print(f"\n{title}", flush=True)
        figures: list[Figure] = await job  # type: ignore[misc]
        print(render(figures), flush=True)


if __name__ == "__main__":
    asyncio.run(main("--quick" in sys.argv))
