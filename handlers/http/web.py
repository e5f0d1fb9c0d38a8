"""The HTTP surface: Slack's events endpoint, /healthz (liveness), /readyz and /metrics."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.config.metrics import Metrics
from bot.usecases.readiness import Readiness
from handlers.http.workspace import WorkspaceGuard

log = structlog.get_logger("rollbot.http")
HealthCheck = Callable[[], Awaitable[None]]
STALE_AFTER_SECONDS = 60 * 5


def signed_by_slack(secret: bytes, body: bytes, timestamp: str, signature: str, now: float) -> bool:
    """Slack's v0 scheme over the raw bytes, whatever they are; stale timestamps refused."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > STALE_AFTER_SECONDS:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def _slack_events(
    bolt: AsyncApp, metrics: Metrics, secret: bytes, guard: WorkspaceGuard | None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def slack_events(request: web.Request) -> web.Response:
        # Checked here as well as in Bolt: some bodies (empty, not UTF-8) Bolt answers before,
        # or instead of, checking who sent them.
        raw = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not signed_by_slack(
            secret, raw, timestamp, request.headers.get("X-Slack-Signature", ""), time.time()
        ):
            return web.json_response({"error": "invalid request signature"}, status=401)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return web.json_response({"error": "the body is not UTF-8"}, status=400)
        try:
            bolt_request = await to_bolt_request(request)
        except Exception:  # Bolt reads its context out of the body: any shape it chokes on is bad
            return web.json_response({"error": "malformed request body"}, status=400)
        if not isinstance(bolt_request.body, dict):
            return web.json_response({"error": "malformed request body"}, status=400)
        if guard is not None:
            try:
                reason = await guard.refusal(bolt_request.body)
            except Exception:  # Slack could not say who we are: try again, never guess
                return web.json_response({"error": "workspace unknown yet"}, status=503)
            if reason is not None:
                return web.json_response({"error": reason}, status=401)
        with metrics.ack_seconds.time():
            bolt_response = await bolt.async_dispatch(bolt_request)
            return await to_aiohttp_response(bolt_response)

    return slack_events


def build_web_app(
    bolt: AsyncApp,
    metrics: Metrics,
    health: HealthCheck,
    extra: list[web.RouteDef] | None = None,
    *,
    signing_secret: str,
    guard: WorkspaceGuard | None = None,
    before_scrape: HealthCheck | None = None,
    readiness: Readiness | None = None,
) -> web.Application:
    slack_events = _slack_events(bolt, metrics, signing_secret.encode(), guard)

    async def readyz(request: web.Request) -> web.Response:
        only = request.match_info.get("part")
        known = readiness.names if readiness is not None else []
        if only is not None and only not in known:
            return web.json_response(
                {"error": f"no part named {only}; the parts are {', '.join(known)}"}, status=404
            )
        parts = await readiness.parts(only) if readiness is not None else []
        failing = [p.name for p in parts if not p.ready]
        body = {
            "status": "not ready" if failing else "ready",
            "failing": failing,
            "parts": {p.name: {"ready": p.ready, "detail": p.detail} for p in parts},
        }
        return web.json_response(body, status=503 if failing else 200)

    async def healthz(_: web.Request) -> web.Response:
        try:
            await health()
        except Exception as exc:
            return web.json_response(
                {"status": "unhealthy", "reason": type(exc).__name__}, status=503
            )
        return web.json_response({"status": "ok"})

    async def prometheus(_: web.Request) -> web.Response:
        if before_scrape is not None:
            try:
                await before_scrape()  # the gauges as the database has them now
            except Exception as exc:  # counters still answer while the database is away
                log.warning("metrics_gauges_unread", error=repr(exc))
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", prometheus)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/readyz/{part}", readyz)
    app.router.add_routes(extra or [])
    return app
