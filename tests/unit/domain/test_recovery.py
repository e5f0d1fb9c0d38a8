"""Recovery judgement. Source: the change management guide (error rate > 5 %, response time > 2x baseline);
the rollback runbook "Verification Checklist"."""

from __future__ import annotations

from bot.domain.policy import HttpCheck, VerificationPolicy
from bot.domain.recovery import CheckResult, judge_error_rate, judge_latency, summarize


def test_error_rate_threshold() -> None:
    assert judge_error_rate(0.05).passed
    assert judge_error_rate(0.004).detail == "0.4% ≤ 5%"
    failing = judge_error_rate(0.12)
    assert (failing.passed, failing.detail) == (False, "12.0% > 5%")


def test_latency_threshold() -> None:
    assert judge_latency(0.4, 0.2).passed  # exactly 2x is not above it
    failing = judge_latency(0.9, 0.3)
    assert (failing.passed, failing.detail) == (False, "3.0x baseline > 2x")


def test_summary_per_kind() -> None:
    results = (
        CheckResult(kind="health_check", name="api", passed=True, detail="200"),
        CheckResult(kind="smoke_tests", name="checkout", passed=False, detail="500"),
        CheckResult(kind="smoke_tests", name="login", passed=True, detail="200"),
    )
    assert summarize(results) == {
        "health_check": "passed 1/1",
        "smoke_tests": "failed 1/2: checkout: 500",
        "metrics": "not configured",
    }


def test_a_policy_says_whether_anything_is_configured() -> None:
    assert not VerificationPolicy().configured
    assert VerificationPolicy(health=(HttpCheck(name="api", url="http://x/healthz"),)).configured
