"""Slack's Socket Mode in the sandbox: `apps.connections.open` hands out a websocket URL; the bot
connects, gets `hello`, and answers each pushed envelope with an ack carrying the response."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

# Bounded waits so a test against a bot that never connects ends instead of hanging.
ACK_WAIT = 10.0


class SocketHub:
    def __init__(self) -> None:
        self.sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.connected = asyncio.Event()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.sockets),
                "connection_info": {"app_id": "A0ROLLBOT"},
            }
        )
        self.connected.set()
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                ack = json.loads(msg.data)
                waiter = self._acks.pop(str(ack.get("envelope_id")), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(ack.get("payload") or {})
        finally:
            self.sockets.remove(ws)
            if not self.sockets:
                self.connected.clear()
        return ws

    async def push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Deliver one envelope to a connected bot and return the payload of its ack."""
        await asyncio.wait_for(self.connected.wait(), ACK_WAIT)
        envelope_id = str(uuid.uuid4())
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = waiter
        await self.sockets[0].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": True,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return await asyncio.wait_for(waiter, ACK_WAIT)

    async def close(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
