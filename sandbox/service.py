"""A service under rollback and its Prometheus, for verification tests and the demo.

The service answers /healthz and /checkout as a real one would; Prometheus answers the
/api/v1/query HTTP API in its JSON shape. Tests set what either says."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

STATE = web.AppKey("state", dict)


async def _health(request: web.Request) -> web.Response:
    s = request.app[STATE]
    return web.Response(status=s["health_status"], text=s["health_body"])


async def _checkout(request: web.Request) -> web.Response:
    s = request.app[STATE]
    return web.json_response(
        {"order": "ok"} if s["checkout_status"] == 200 else {"error": "boom"},
        status=s["checkout_status"],
    )


async def _query(request: web.Request) -> web.Response:
    s = request.app[STATE]
    query = request.query.get("query", "")
    value = s["metrics"].get(query)
    if value is None:
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": []}}
        )
    sample: list[Any] = [time.time(), str(value)]
    return web.json_response(
        {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": sample}]},
        }
    )


class SandboxService:
    def __init__(self) -> None:
        self.state: dict[str, Any] = {
            "health_status": 200,
            "health_body": "ok",
            "checkout_status": 200,
            "metrics": {},
        }
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app[STATE] = self.state
        app.router.add_get("/healthz", _health)
        app.router.add_post("/checkout", _checkout)
        app.router.add_get("/api/v1/query", _query)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
