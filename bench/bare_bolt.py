"""The baseline server: a Bolt AsyncApp over aiohttp whose /rollback handler only acks.

    python -m bench.bare_bolt SLACK_API_URL TOKEN SECRET [--inline]

`--inline` sets process_before_response=True (the listener runs before the answer; rollbot's
mode); without it Bolt answers from its default async runner. Prints "serving <url>".
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


async def main() -> None:
    api, token, secret = sys.argv[1:4]
    inline = "--inline" in sys.argv
    app = AsyncApp(
        signing_secret=secret,
        client=AsyncWebClient(token=token, base_url=api.rstrip("/") + "/"),
        process_before_response=inline,
    )

    @app.command("/rollback")
    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"serving http://127.0.0.1:{port}/slack/events", file=sys.stderr, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
