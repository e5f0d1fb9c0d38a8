"""A metric over the recovery chart's window: Prometheus's GET /api/v1/query_range, the first
series of the matrix it answers (https://prometheus.io/docs/prometheus/latest/querying/api/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.domain.recovery_charts import RecoveryChart
from bot.ports import AdapterError, Series


class PrometheusHistory:
    def __init__(self, *, timeout: float = 10.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def series(self, base_url: str, query: str, chart: RecoveryChart) -> Series:
        params = {
            "query": query,
            "start": f"{chart.start.timestamp():.3f}",
            "end": f"{chart.end.timestamp():.3f}",
            "step": f"{chart.step.total_seconds():g}",
        }
        url = f"{base_url.rstrip('/')}/api/v1/query_range"
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.get(url, params=params) as resp,
            ):
                body: dict[str, Any] = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise AdapterError(
                f"Prometheus at {base_url} could not be asked ({type(exc).__name__})"
            ) from None
        if body.get("status") != "success":
            raise AdapterError(
                f"Prometheus refused the query: {body.get('error', 'no reason given')}"
            )
        result = body["data"]["result"]
        if body["data"]["resultType"] != "matrix" or not result:
            return []
        return [(datetime.fromtimestamp(float(t), UTC), float(v)) for t, v in result[0]["values"]]
