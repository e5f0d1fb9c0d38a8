"""Recovery verification over HTTP: health checks, smoke tests and Prometheus instant queries,
as the target's service policy lists them."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from bot.domain.policy import ApprovalPolicy, HttpCheck, MetricsCheck
from bot.domain.recovery import CheckResult, judge_error_rate, judge_latency, summarize
from bot.domain.request import RollbackRequest
from bot.ports import VerificationResult


async def _http(session: aiohttp.ClientSession, kind: str, check: HttpCheck) -> CheckResult:
    try:
        async with session.request(check.method, check.url, data=check.body) as resp:
            text = await resp.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return CheckResult(
            kind=kind, name=check.name, passed=False, detail=f"unreachable ({type(exc).__name__})"
        )
    if resp.status != check.expect_status:
        return CheckResult(
            kind=kind,
            name=check.name,
            passed=False,
            detail=f"HTTP {resp.status}, expected {check.expect_status}",
        )
    if check.expect_body is not None and check.expect_body not in text:
        return CheckResult(
            kind=kind, name=check.name, passed=False, detail=f"body lacks {check.expect_body!r}"
        )
    return CheckResult(kind=kind, name=check.name, passed=True, detail=f"HTTP {resp.status}")


async def _instant(session: aiohttp.ClientSession, base: str, query: str) -> float:
    """Prometheus HTTP API: GET /api/v1/query; the first sample of a vector (or a scalar)."""
    async with session.get(f"{base.rstrip('/')}/api/v1/query", params={"query": query}) as resp:
        body: dict[str, Any] = await resp.json()
    if body.get("status") != "success":
        raise ValueError(body.get("error", "query failed"))
    data = body["data"]
    if data["resultType"] == "scalar":
        return float(data["result"][1])
    if not data["result"]:
        raise ValueError("no samples")
    return float(data["result"][0]["value"][1])


async def _metrics(session: aiohttp.ClientSession, check: MetricsCheck) -> list[CheckResult]:
    results: list[CheckResult] = []
    try:
        if check.error_rate_query:
            results.append(
                judge_error_rate(
                    await _instant(session, check.prometheus_url, check.error_rate_query)
                )
            )
        if check.latency_query and check.baseline_latency_seconds:
            latency = await _instant(session, check.prometheus_url, check.latency_query)
            results.append(judge_latency(latency, check.baseline_latency_seconds))
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
        results.append(
            CheckResult(
                kind="metrics", name="prometheus", passed=False, detail=f"query failed: {exc}"
            )
        )
    return results


class HttpVerifier:
    def __init__(self, policy: ApprovalPolicy, *, timeout: float = 10.0) -> None:
        self._policy = policy
        # health checks, smoke tests and Prometheus queries each give up after this long
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def verify(self, request: RollbackRequest) -> VerificationResult:
        plan = self._policy.service(request.target.name).verification
        if not plan.configured:
            return VerificationResult(
                passed=False,
                ran=False,
                summary="the rollout finished, and no recovery checks are configured for this service",
                checks=dict.fromkeys(("health_check", "smoke_tests", "metrics"), "not configured"),
            )
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            checks = await asyncio.gather(
                *(_http(session, "health_check", c) for c in plan.health),
                *(_http(session, "smoke_tests", c) for c in plan.smoke),
            )
            results = (*checks, *(await _metrics(session, plan.metrics) if plan.metrics else []))
        summary = summarize(results)
        passed = all(r.passed for r in results)
        text = "; ".join(
            f"{kind.replace('_', ' ')} {state}"
            for kind, state in summary.items()
            if state != "not configured"
        )
        return VerificationResult(passed=passed, summary=text, checks=summary)
