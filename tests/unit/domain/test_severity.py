"""Severity rules. Source: the rollback and incident response standard "Incident Severity & Escalation"; triggers from the change management guide"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.errors import InvalidSeverityError
from bot.domain.severity import (
    PROFILES,
    Severity,
    SeveritySignals,
    classify,
    declared,
    override_severity,
    parse_severity,
)


@pytest.mark.parametrize(
    ("signals", "severity", "reason"),
    [
        # the rollback and incident response standard P1: total service outage
        (SeveritySignals(total_outage=True), Severity.P1, "total service outage"),
        # the rollback and incident response standard P1 example: "Database completely unavailable (100% request failure)"
        (SeveritySignals(error_rate=1.0), Severity.P1, "total service outage"),
        # the rollback and incident response standard P1: data loss/corruption
        (SeveritySignals(data_loss=True), Severity.P1, "data loss or corruption"),
        # the rollback and incident response standard P1 example: "Security breach (customer data exposed)"
        (SeveritySignals(security_breach=True), Severity.P1, "security breach"),
        # the rollback and incident response standard P2 example: "Payment transactions failing (10% error rate)"; the change management guide > 5 %
        (SeveritySignals(error_rate=0.10), Severity.P2, "10% of requests failing"),
        # the rollback and incident response standard P2 example: "Reporting feature broken (critical for customers)"
        (
            SeveritySignals(feature_broken=True, critical_to_customers=True),
            Severity.P2,
            "customers depend on",
        ),
        # the rollback and incident response standard P2 example: "API latency >5 seconds (some requests failing)"
        (
            SeveritySignals(latency_ratio=3.0, error_rate=0.01),
            Severity.P2,
            "slow responses with some",
        ),
        # the rollback and incident response standard P3 example: "API latency 2-5 seconds (no errors, just slow)"; the change management guide > 2x
        (SeveritySignals(latency_ratio=2.5), Severity.P3, "latency above 2x baseline"),
        # the rollback and incident response standard P3: "Non-critical feature broken"
        (SeveritySignals(feature_broken=True), Severity.P3, "non-critical feature broken"),
        # below the the change management guide trigger, customers still see errors: P3
        (SeveritySignals(error_rate=0.02), Severity.P3, "below the 5% trigger"),
        # the rollback and incident response standard P4: "Cosmetic"
        (SeveritySignals(), Severity.P4, "cosmetic issue"),
        # the rollback and incident response standard P4: "internal-only issue" (log message error, not customer-visible)
        (SeveritySignals(customer_visible=False), Severity.P4, "internal-only issue"),
        (
            SeveritySignals(feature_broken=True, customer_visible=False),
            Severity.P4,
            "internal-only",
        ),
        # exactly 2x is not above the trigger; exactly 5 % is not above it either
        (SeveritySignals(latency_ratio=2.0), Severity.P4, "cosmetic"),
        (SeveritySignals(error_rate=0.05), Severity.P3, "below the 5% trigger"),
    ],
)
def test_classification_table(signals: SeveritySignals, severity: Severity, reason: str) -> None:
    result = classify(signals)
    assert result.severity is severity
    assert reason in result.reason
    assert result.override is None


@pytest.mark.parametrize(
    ("severity", "sla", "pages", "notify"),
    [
        # the rollback and incident response standard: SLAs 1/4/8/24 h; who is alerted; customer notification 30 min / 2 h / 4 h
        (Severity.P1, timedelta(hours=1), "VP Engineering", timedelta(minutes=30)),
        (Severity.P2, timedelta(hours=4), "Engineering Lead", timedelta(hours=2)),
        (Severity.P3, timedelta(hours=8), "#incidents", timedelta(hours=4)),
        (Severity.P4, timedelta(hours=24), "ticket", None),
    ],
)
def test_profiles(severity: Severity, sla: timedelta, pages: str, notify: timedelta | None) -> None:
    result = declared(severity, "alice")
    assert result.decision_sla == sla
    assert result.pages == pages
    assert PROFILES[severity].customer_notification == notify
    assert severity.rank == int(severity.value[1])


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("P1", Severity.P1),
        ("p2", Severity.P2),
        (" P3 ", Severity.P3),
        ("P4", Severity.P4),
        ("P0", Severity.P1),
        ("p0", Severity.P1),
    ],
)
def test_parse_severity_maps_the_runbooks_p0_to_the_top_class(
    text: str, severity: Severity
) -> None:
    # the rollback runbook "Emergency Override: Only for P0 incidents" — our top class is P1
    assert parse_severity(text) is severity


@pytest.mark.parametrize("text", ["P5", "high", "", "1"])
def test_parse_severity_refuses_other_words(text: str) -> None:
    with pytest.raises(InvalidSeverityError, match="use P1, P2, P3 or P4"):
        parse_severity(text)


def test_human_override_keeps_the_computed_class_and_reason() -> None:
    computed = classify(SeveritySignals(latency_ratio=2.5))
    overridden = override_severity(computed, Severity.P1, "  checkout is down for EU  ", by="U0IC")
    assert overridden.severity is Severity.P1
    assert overridden.computed is Severity.P3
    assert overridden.override is not None
    assert overridden.override.reason == "checkout is down for EU"
    assert overridden.override.by == "U0IC"
    assert overridden.decision_sla == timedelta(hours=1)


def test_override_needs_a_reason() -> None:
    with pytest.raises(InvalidSeverityError, match="needs a reason"):
        override_severity(classify(SeveritySignals()), Severity.P1, "   ", by="U0IC")


def test_undeclared_severity_is_a_visible_placeholder() -> None:
    placeholder = declared(None, "alice")
    assert placeholder.severity is Severity.P2
    assert "not classified yet" in placeholder.reason
    assert declared(Severity.P1, "alice").reason == "declared by alice"
