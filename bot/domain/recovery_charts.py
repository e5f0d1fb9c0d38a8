"""Recovery charts: the auditor's "monitoring dashboard screenshot with date/time visible"
(SOC 2 CC8 rollback evidence), drawn the same way every time.

Pure: which metric each chart shows, over which window, with which threshold, and the moments
of the rollback marked on it. The window starts before the incident was detected and ends when
the watch after the rollback ended, so the curve shows the failure, the rollback and the
recovery holding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.policy import MetricsCheck
from bot.domain.request import RollbackRequest
from bot.domain.severity import ERROR_RATE_TRIGGER, LATENCY_TRIGGER

# Prometheus answers at most 11,000 points a series; a chart needs far fewer.
POINTS = 240


@dataclass(frozen=True)
class Happened:
    """One audited step of the request, as a chart marks it."""

    action: str
    at: datetime
    by: str


@dataclass(frozen=True)
class ChartMark:
    label: str
    at: datetime


@dataclass(frozen=True)
class RecoveryChart:
    check: str  # file name stem: "error-rate", "latency"
    service: str
    query: str
    unit: str  # "ratio" or "seconds"
    threshold: float
    threshold_label: str
    start: datetime
    end: datetime
    marks: tuple[ChartMark, ...]

    @property
    def title(self) -> str:
        return (
            f"{self.service}: {self.query}\n"
            f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"
        )

    def facts(self) -> dict[str, object]:
        """What the chart shows, in words and UTC times: for the PNG's text and the raw series."""
        return {
            "service": self.service,
            "query": self.query,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "threshold": self.threshold,
            "marks": [{"label": m.label, "at": m.at.isoformat()} for m in self.marks],
        }

    @property
    def step(self) -> timedelta:
        return max((self.end - self.start) / POINTS, timedelta(seconds=1))


# The steps a chart marks, and how each is labelled on it.
_MARKED = {
    "request.opened": "requested by {by}",
    "approval.given": "approved by {by}",
    "execution.change_sent": "rollback patch sent",
    "execution.succeeded": "rollout finished",
    "execution.failed": "rollout failed",
    "verification.watch_closed": "watch ended",
    "verification.drifted": "watch ended: recovery did not hold",
}


def marks(request: RollbackRequest, steps: Sequence[Happened]) -> tuple[ChartMark, ...]:
    found = [ChartMark("incident detected", request.detected_at)] if request.detected_at else []
    found += [
        ChartMark(_MARKED[s.action].format(by=s.by), s.at) for s in steps if s.action in _MARKED
    ]
    return tuple(sorted(found, key=lambda m: m.at))


def recovery_charts(
    request: RollbackRequest,
    metrics: MetricsCheck,
    steps: Sequence[Happened],
    *,
    end: datetime,
    lead: timedelta,
) -> tuple[RecoveryChart, ...]:
    """One chart for each of the standard's triggers the service's policy has a query for."""
    start = min(request.detected_at or request.created_at, request.created_at) - lead
    marked = marks(request, steps)

    def chart(check: str, query: str, unit: str, threshold: float, label: str) -> RecoveryChart:
        return RecoveryChart(
            check, request.target.name, query, unit, threshold, label, start, end, marked
        )

    charts: list[RecoveryChart] = []
    if metrics.error_rate_query:
        label = f"rollback trigger: error rate above {ERROR_RATE_TRIGGER:.0%}"
        charts.append(
            chart("error-rate", metrics.error_rate_query, "ratio", ERROR_RATE_TRIGGER, label)
        )
    if metrics.latency_query and metrics.baseline_latency_seconds:
        baseline = metrics.baseline_latency_seconds
        label = (
            f"rollback trigger: latency above {LATENCY_TRIGGER:.0f}x the {baseline:g} s baseline"
        )
        charts.append(
            chart("latency", metrics.latency_query, "seconds", baseline * LATENCY_TRIGGER, label)
        )
    return tuple(charts)
