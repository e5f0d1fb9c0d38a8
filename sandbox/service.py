"""A service under rollback and its Prometheus, for verification tests and the demo.

The service answers /healthz and /checkout as a real one would; Prometheus answers the
/api/v1/query and /api/v1/query_range HTTP API in its JSON shape. Tests set what either says."""

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


# Prometheus's defaults: a sample counts for a step up to 5 minutes after it was taken, and a
# series has at most 11,000 points.
LOOKBACK = 300.0
MAX_POINTS = 11_000


def _bad_data(message: str) -> web.Response:
    return web.json_response(
        {"status": "error", "errorType": "bad_data", "error": message}, status=400
    )


def _at_step(samples: list[tuple[float, float]], t: float) -> float | None:
    """The newest sample at or before `t` within the lookback, as PromQL evaluates a step."""
    seen = [v for when, v in samples if when <= t and t - when <= LOOKBACK]
    return seen[-1] if seen else None


async def _query_range(request: web.Request) -> web.Response:
    s = request.app[STATE]
    q = request.query
    for name in ("query", "start", "end", "step"):
        if name not in q:
            return _bad_data(f'invalid parameter "{name}": missing')
    start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
    if end < start:
        return _bad_data('invalid parameter "end": end timestamp must not be before start time')
    if step <= 0:
        return _bad_data(
            'invalid parameter "step": zero or negative query resolution step widths are not '
            "accepted. Try a positive integer"
        )
    if (end - start) / step > MAX_POINTS:
        return _bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
            "query resolution (?step=XX)"
        )
    samples = sorted(s["series"].get(q["query"], []))
    values = []
    t = start
    while t <= end:
        value = _at_step(samples, t)
        if value is not None:
            values.append([round(t, 3), f"{value:g}"])
        t += step
    result = [{"metric": {}, "values": values}] if values else []
    return web.json_response(
        {"status": "success", "data": {"resultType": "matrix", "result": result}}
    )


class SandboxService(LocalHttpServer):
    def __init__(self) -> None:
        super().__init__()
        self.state: dict[str, Any] = {
            "health_status": 200,
            "health_body": "ok",
            "checkout_status": 200,
            "metrics": {},
            # query -> [(unix time, value)], the samples query_range reads
            "series": {},
        }

    def build_app(self) -> web.Application:
        app = web.Application()
        app[STATE] = self.state
        app.router.add_get("/healthz", _health)
        app.router.add_post("/checkout", _checkout)
        app.router.add_get("/api/v1/query", _query)
        app.router.add_get("/api/v1/query_range", _query_range)
        return app
