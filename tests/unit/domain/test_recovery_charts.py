"""What each recovery chart shows: the window from before detection to the watch's end, the
standard's trigger as the threshold, and the rollback's steps marked in order."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.policy import MetricsCheck
from bot.domain.recovery_charts import POINTS, Happened, marks, recovery_charts
from tests.unit.domain.factories import T0, make_request

BOTH = MetricsCheck(
    prometheus_url="http://prometheus:9090",
    error_rate_query="errors",
    latency_query="p99",
    baseline_latency_seconds=0.25,
)
STEPS = [
    Happened("approval.given", T0 + timedelta(minutes=3), "bob"),
    Happened("request.opened", T0, "alice"),
    Happened("execution.change_sent", T0 + timedelta(minutes=4), "rollbot"),
    Happened("progress", T0 + timedelta(minutes=4, seconds=5), "rollbot"),  # not marked
    Happened("execution.succeeded", T0 + timedelta(minutes=6), "rollbot"),
    Happened("verification.watch_closed", T0 + timedelta(minutes=36), "rollbot"),
]


def test_each_trigger_with_a_query_gets_a_chart_over_the_incident() -> None:
    request = make_request()
    end = T0 + timedelta(minutes=36)
    errors, latency = recovery_charts(request, BOTH, STEPS, end=end, lead=timedelta(minutes=15))
    assert (errors.check, errors.query, errors.unit, errors.threshold) == (
        "error-rate",
        "errors",
        "ratio",
        0.05,
    )
    assert (latency.check, latency.threshold) == ("latency", 0.5)  # 2x the 0.25 s baseline
    assert "2x the 0.25 s baseline" in latency.threshold_label
    assert errors.start == T0 - timedelta(minutes=15)
    assert errors.end == end
    assert errors.title == "api: errors\n2026-11-27 08:45 to 2026-11-27 09:36 UTC"
    assert errors.step == (end - errors.start) / POINTS
    facts = errors.facts()
    assert (facts["start"], facts["end"], facts["threshold"]) == (
        errors.start.isoformat(),
        end.isoformat(),
        0.05,
    )
    assert facts["marks"][0] == {"label": "requested by alice", "at": T0.isoformat()}
    assert [m.label for m in errors.marks] == [
        "requested by alice",
        "approved by bob",
        "rollback patch sent",
        "rollout finished",
        "watch ended",
    ]


def test_the_window_starts_before_the_detection_of_an_alert() -> None:
    detected = T0 - timedelta(minutes=10)
    request = make_request().model_copy(update={"detected_at": detected})
    [chart] = recovery_charts(
        request,
        MetricsCheck(prometheus_url="http://p", error_rate_query="errors"),
        [],
        end=T0 + timedelta(minutes=30),
        lead=timedelta(minutes=15),
    )
    assert chart.start == detected - timedelta(minutes=15)
    assert chart.marks[0].label == "incident detected"
    assert chart.marks[0].at == detected


def test_a_latency_query_needs_its_baseline_and_nothing_configured_draws_nothing() -> None:
    request = make_request()
    no_baseline = MetricsCheck(prometheus_url="http://p", latency_query="p99")
    assert recovery_charts(request, no_baseline, STEPS, end=T0, lead=timedelta(0)) == ()
    only_latency = BOTH.model_copy(update={"error_rate_query": None})
    [chart] = recovery_charts(request, only_latency, STEPS, end=T0, lead=timedelta(0))
    assert chart.check == "latency"


def test_a_short_window_steps_at_least_a_second_and_a_drift_is_marked() -> None:
    request = make_request()
    drift = [Happened("verification.drifted", T0 + timedelta(seconds=30), "rollbot")]
    [chart] = recovery_charts(
        request,
        MetricsCheck(prometheus_url="http://p", error_rate_query="errors"),
        drift,
        end=T0 + timedelta(seconds=60),
        lead=timedelta(0),
    )
    assert chart.step == timedelta(seconds=1)
    assert [m.label for m in marks(request, drift)] == ["watch ended: recovery did not hold"]
