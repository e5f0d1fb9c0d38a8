"""The HTTP surface: Slack's events endpoint, /healthz and /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.metrics import Metrics

HealthCheck = Callable[[], Awaitable[None]]


def build_web_app(
    bolt: AsyncApp, metrics: Metrics, health: HealthCheck, extra: list[web.RouteDef] | None = None
) -> web.Application:
    async def slack_events(request: web.Request) -> web.Response:
        with metrics.ack_seconds.time():
            bolt_response = await bolt.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        try:
            await health()
        except Exception as exc:
            return web.json_response(
                {"status": "unhealthy", "reason": type(exc).__name__}, status=503
            )
        return web.json_response({"status": "ok"})

    async def prometheus(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", prometheus)
    app.router.add_routes(extra or [])
    return app
