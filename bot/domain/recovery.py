"""Judging recovery from metrics (the change management guide: error rate > 5 %, response time > 2x baseline)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.domain.severity import ERROR_RATE_TRIGGER, LATENCY_TRIGGER


class CheckResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str  # health_check | smoke_tests | metrics
    name: str
    passed: bool
    detail: str


def judge_error_rate(rate: float) -> CheckResult:
    ok = rate <= ERROR_RATE_TRIGGER
    return CheckResult(
        kind="metrics",
        name="error rate",
        passed=ok,
        detail=f"{rate:.1%} {'≤' if ok else '>'} {ERROR_RATE_TRIGGER:.0%}",
    )


def judge_latency(latency: float, baseline: float) -> CheckResult:
    ratio = latency / baseline
    ok = ratio <= LATENCY_TRIGGER
    return CheckResult(
        kind="metrics",
        name="latency",
        passed=ok,
        detail=f"{ratio:.1f}x baseline {'≤' if ok else '>'} {LATENCY_TRIGGER:.0f}x",
    )


def summarize(results: tuple[CheckResult, ...]) -> dict[str, str]:
    """Per kind: 'passed 2/2' or 'failed 1/2: <first failure>'; the evidence manifest's words."""
    out: dict[str, str] = {}
    for kind in ("health_check", "smoke_tests", "metrics"):
        mine = [r for r in results if r.kind == kind]
        if not mine:
            out[kind] = "not configured"
            continue
        good = sum(r.passed for r in mine)
        failed = next((r for r in mine if not r.passed), None)
        out[kind] = (
            f"passed {good}/{len(mine)}"
            if failed is None
            else (f"failed {good}/{len(mine)}: {failed.name}: {failed.detail}")
        )
    return out
