"""A service under rollback and its Prometheus, for verification tests and the demo.

The service answers /healthz and /checkout as a real one would; Prometheus answers the
/api/v1/query HTTP API in its JSON shape. Tests set what either says."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from sandbox.local_http import LocalHttpServer

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


class SandboxService(LocalHttpServer):
    def __init__(self) -> None:
        super().__init__()
        self.state: dict[str, Any] = {
            "health_status": 200,
            "health_body": "ok",
            "checkout_status": 200,
            "metrics": {},
        }

    def build_app(self) -> web.Application:
        app = web.Application()
        app[STATE] = self.state
        app.router.add_get("/healthz", _health)
        app.router.add_post("/checkout", _checkout)
        app.router.add_get("/api/v1/query", _query)
        return app
