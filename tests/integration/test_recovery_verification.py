"""Recovery verification over real HTTP: health checks, smoke tests, Prometheus queries
(the change management guide "Verify Restoration"; the rollback runbook "Verification Checklist")."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.domain.policy import (
    ApprovalPolicy,
    HttpCheck,
    MetricsCheck,
    ServicePolicy,
    VerificationPolicy,
)
from bot.domain.request import TargetRef
from integrations.health.checks import HttpVerifier
from sandbox.service import SandboxService
from tests.unit.domain.factories import make_request

ERRORS = 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'
LATENCY = "histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m]))"


@pytest.fixture
async def service() -> AsyncIterator[SandboxService]:
    svc = SandboxService()
    await svc.start()
    svc.state["metrics"] = {ERRORS: 0.004, LATENCY: 0.21}
    yield svc
    await svc.stop()


def _policy(url: str, *, prometheus: str | None = None) -> ApprovalPolicy:
    plan = VerificationPolicy(
        health=(HttpCheck(name="api", url=f"{url}/healthz", expect_body="ok"),),
        smoke=(HttpCheck(name="checkout", url=f"{url}/checkout", method="POST", body="{}"),),
        metrics=MetricsCheck(
            prometheus_url=prometheus or url,
            error_rate_query=ERRORS,
            latency_query=LATENCY,
            baseline_latency_seconds=0.2,
        ),
    )
    return ApprovalPolicy(services={"api": ServicePolicy(verification=plan)})


def _request() -> object:
    return make_request().model_copy(
        update={"target": TargetRef(kind="deployment", name="api", namespace="prod")}
    )


async def test_everything_green(service: SandboxService) -> None:
    result = await HttpVerifier(_policy(service.url)).verify(_request())  # type: ignore[arg-type]
    assert result.passed
    assert result.checks == {
        "health_check": "passed 1/1",
        "smoke_tests": "passed 1/1",
        "metrics": "passed 2/2",
    }
    assert result.summary == "health check passed 1/1; smoke tests passed 1/1; metrics passed 2/2"


@pytest.mark.parametrize(
    ("change", "kind", "says"),
    [
        ({"health_status": 503}, "health_check", "api: HTTP 503, expected 200"),
        ({"health_body": "degraded"}, "health_check", "body lacks 'ok'"),
        ({"checkout_status": 500}, "smoke_tests", "checkout: HTTP 500, expected 200"),
        ({"metrics": {ERRORS: 0.12, LATENCY: 0.21}}, "metrics", "error rate: 12.0% > 5%"),
        ({"metrics": {ERRORS: 0.01, LATENCY: 0.9}}, "metrics", "latency: 4.5x baseline > 2x"),
        ({"metrics": {}}, "metrics", "prometheus: query failed: no samples"),
    ],
)
async def test_each_kind_of_failure_is_named(
    service: SandboxService, change: dict[str, object], kind: str, says: str
) -> None:
    service.state.update(change)
    result = await HttpVerifier(_policy(service.url)).verify(_request())  # type: ignore[arg-type]
    assert not result.passed
    assert result.checks[kind].startswith("failed")
    assert says in result.checks[kind]


async def test_an_unreachable_service_fails_verification(service: SandboxService) -> None:
    result = await HttpVerifier(_policy("http://127.0.0.1:9", prometheus=service.url)).verify(
        _request()
    )  # type: ignore[arg-type]
    assert not result.passed
    assert "unreachable" in result.checks["health_check"]


async def test_no_checks_configured_says_so() -> None:
    result = await HttpVerifier(ApprovalPolicy()).verify(_request())  # type: ignore[arg-type]
    assert (result.ran, result.passed) == (False, False)  # nothing ran, so nothing passed
    assert result.summary == (
        "the rollout finished, and no recovery checks are configured for this service"
    )
    assert result.checks == {
        "health_check": "not configured",
        "smoke_tests": "not configured",
        "metrics": "not configured",
    }
