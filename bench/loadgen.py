"""The load: signed slash commands at a fixed offered rate, from a process of its own.

Open loop: request i leaves at start + i/rate whether or not earlier ones were answered, so a
slow server shows up as latency, not as a lower rate. Prints one JSON object: latencies in ms
and the count of non-200 answers.

    python -m bench.loadgen URL SECRET FIELDS.jsonl RATE SECONDS
    (RATE 0: closed loop, 20 in flight, SECONDS read as the number of requests)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlencode

import aiohttp

from sandbox.slack.driver import slack_signature


def _signed(secret: str, body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(secret, ts, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def run(url: str, secret: str, bodies: list[bytes], rate: float) -> dict[str, object]:
    latencies: list[float] = []
    failures = 0
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(body: bytes) -> None:
            nonlocal failures
            started = time.perf_counter()
            try:
                async with http.post(url, data=body, headers=_signed(secret, body)) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:
                ok = False
            latencies.append((time.perf_counter() - started) * 1000)
            failures += not ok

        if rate <= 0:  # closed loop: 20 at a time, as fast as the server answers
            queue = list(reversed(bodies))

            async def worker() -> None:
                while queue:
                    await one(queue.pop())

            await asyncio.gather(*(worker() for _ in range(20)))
            return {"latencies_ms": latencies, "failures": failures}
        start = time.perf_counter()
        tasks = []
        for i, body in enumerate(bodies):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body)))
        await asyncio.gather(*tasks)
    return {"latencies_ms": latencies, "failures": failures}


def main() -> None:
    url, secret, fields_path, rate, seconds = sys.argv[1:6]
    with open(fields_path, encoding="utf-8") as lines:
        fields = [json.loads(line) for line in lines]
    count = int(float(rate) * float(seconds)) if float(rate) > 0 else int(float(seconds))
    bodies = [urlencode(f).encode() for f in fields[:count]]
    print(json.dumps(asyncio.run(run(url, secret, bodies, float(rate)))))


if __name__ == "__main__":
    main()
