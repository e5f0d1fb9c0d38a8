"""Monthly metrics on hand-made histories with known answers (the rollback and incident response standard, the change management guide)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.events import Obligation, ObligationKind
from bot.domain.reporting import Month, RollbackFacts, month_metrics, monthly_report
from bot.domain.severity import Severity

K = ObligationKind
NOV = Month(year=2026, month=11)
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def at(day: int, hour: int = 9, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def facts(
    rid: str,
    opened: datetime,
    *,
    severity: Severity = Severity.P2,
    detected: datetime | None = None,
    executed: tuple[datetime, datetime] | None = None,
    recovered: datetime | None = None,
    emergency: bool = False,
    obligations: tuple[Obligation, ...] = (),
) -> RollbackFacts:
    return RollbackFacts(
        request_id=rid,
        incident_id=f"INC-{rid}",
        target="deployment/api -n prod",
        severity=severity,
        opened_at=opened,
        detected_at=detected,
        state="completed" if recovered else "failed" if executed else "forward_fix_chosen",
        executed_at=executed[0] if executed else None,
        executed_until=executed[1] if executed else None,
        recovered_at=recovered,
        emergency=emergency,
        obligations=obligations,
    )


def owed(kind: ObligationKind, due: datetime, met: datetime | None = None) -> Obligation:
    return Obligation(kind=kind, due=due, created_at=due - timedelta(hours=1), met_at=met)


HISTORY = [
    # P1 from an alert 6 min before; rolled back in 4 min; recovered 12 min after the request
    facts(
        "A",
        at(3),
        severity=Severity.P1,
        detected=at(3, 8, 54),
        executed=(at(3, 9, 5), at(3, 9, 9)),
        recovered=at(3, 9, 12),
        obligations=(
            owed(K.DECISION_SLA, at(3, 10), met=at(3, 9, 2)),
            owed(K.CUSTOMER_NOTIFICATION, at(3, 9, 30), met=at(3, 9, 45)),  # late
            owed(K.POST_MORTEM, at(5, 9, 12), met=at(4)),
        ),
    ),
    # P2 on an emergency override; its rollback failed; post-mortem still owed, overdue
    facts(
        "B",
        at(10),
        executed=(at(10, 9, 10), at(10, 9, 16)),
        emergency=True,
        obligations=(
            owed(K.DECISION_SLA, at(10, 13), met=at(10, 9, 1)),
            owed(K.RETRO_APPROVAL, at(10, 13)),  # never given: overdue
            owed(K.POST_MORTEM, at(12, 9, 16)),  # never written: overdue
        ),
    ),
    # P3 decided after its 8 h SLA: a forward fix, nothing executed
    facts(
        "C",
        at(20),
        severity=Severity.P3,
        obligations=(owed(K.DECISION_SLA, at(20, 17), met=at(20, 18)),),
    ),
    # P2 opened on the last evening of the month, recovered the next morning: counts in November
    facts(
        "D",
        at(30, 23, 30),
        detected=at(30, 23, 20),
        executed=(at(30, 23, 50), at(30, 23, 56)),
        recovered=datetime(2026, 12, 1, 0, 30, tzinfo=UTC),
    ),
    # October: for the trend
    facts(
        "E",
        at(15, month=10),
        executed=(at(15, 9, 5, month=10), at(15, 9, 9, month=10)),
        recovered=at(15, 10, month=10),
    ),
]


def test_the_months_numbers() -> None:
    m = month_metrics(HISTORY, NOV, NOW, deployments=80)
    assert m.month == "2026-11"
    assert m.incidents == 4
    assert m.by_severity == {"P1": 1, "P2": 2, "P3": 1, "P4": 0}
    assert m.mttd_minutes == 8.0  # (6 + 10) / 2
    assert m.mttr_minutes == 36.0  # (12 + 60) / 2
    assert m.rollback_count == 3
    assert m.success_rate == round(2 / 3, 4)
    assert m.average_rollback_minutes == round((4 + 6 + 6) / 3, 1)
    assert m.emergency_share == round(1 / 3, 4)
    assert m.rollback_rate == round(3 / 80, 4)
    assert m.successful_changes == round(77 / 80, 4)
    assert m.sla_breaches == 1  # C
    assert m.late_customer_notifications == 1  # A
    assert m.overdue_post_mortems == ("B",)
    assert m.overdue_retro_approvals == ("B",)


def test_an_empty_month_has_no_averages_and_no_rates() -> None:
    m = month_metrics(HISTORY, Month(year=2026, month=7), NOW)
    assert (m.incidents, m.rollback_count, m.sla_breaches) == (0, 0, 0)
    assert m.by_severity == {"P1": 0, "P2": 0, "P3": 0, "P4": 0}
    assert (m.mttd_minutes, m.mttr_minutes, m.success_rate) == (None, None, None)
    assert (m.average_rollback_minutes, m.emergency_share, m.rollback_rate) == (None, None, None)
    assert m.successful_changes is None
    assert (m.overdue_post_mortems, m.overdue_retro_approvals) == ((), ())


def test_an_incident_spanning_the_months_end_counts_once_in_the_month_it_was_declared() -> None:
    december = month_metrics(HISTORY, Month(year=2026, month=12), NOW)
    assert december.incidents == 0
    assert month_metrics(HISTORY, NOV, NOW).incidents == 4


def test_the_report_shows_the_three_month_trend_and_the_targets() -> None:
    report = monthly_report(HISTORY, NOV, NOW, deployments=80)
    trends = {t.metric: t for t in report.trends}
    assert trends["MTTR (min)"].values == (None, 60.0, 36.0)
    assert trends["MTTR (min)"].direction == "improving"
    assert trends["success rate"].values == (None, 1.0, round(2 / 3, 4))
    assert trends["success rate"].direction == "worsening"
    assert trends["rollback count"].values == (0, 1, 3)
    assert trends["rollback count"].direction == "worsening"
    assert report.targets == {
        "emergency share < 5 %": "missed",
        "successful changes > 95 %": "met",
        "rollback rate < 5 %": "met",
        "database rollbacks within 1 h": "not known",  # none this month
        "deployment rollbacks within 15 min": "met",  # 4, 6 and 6 minutes
        "deployment rollbacks within 10 min (rollback standard)": "met",
    }
    assert "MTTR" in report.definitions
    unknown = monthly_report(HISTORY, NOV, NOW)
    assert unknown.targets["rollback rate < 5 %"] == "not known"
    steady = monthly_report(HISTORY, Month(year=2026, month=9), NOW)
    assert {t.direction for t in steady.trends} == {"no data", "steady"}


def test_months_step_over_year_ends_and_parse_strictly() -> None:
    jan = Month.parse("2027-01")
    assert (jan.before.label, Month(year=2026, month=12).following.label) == ("2026-12", "2027-01")
    assert jan.start == datetime(2027, 1, 1, tzinfo=UTC)
    assert NOV.end == datetime(2026, 12, 1, tzinfo=UTC)
    for bad in ("2026-13", "26-11", "november", "2026-00"):
        with pytest.raises(ValueError, match="is not a month"):
            Month.parse(bad)


def test_requests_of_one_incident_count_as_one_incident_at_its_highest_severity() -> None:
    same = [
        facts("X1", at(5), severity=Severity.P3).model_copy(update={"incident_id": "INC-X"}),
        facts("X2", at(5, 10), severity=Severity.P1).model_copy(update={"incident_id": "INC-X"}),
        facts("X3", at(5, 11), severity=Severity.P2).model_copy(update={"incident_id": "INC-X"}),
        facts("Y", at(6), severity=Severity.P4).model_copy(update={"incident_id": None}),
    ]
    m = month_metrics(same, NOV, NOW)
    assert (m.incidents, m.requests) == (2, 4)
    assert m.by_severity == {"P1": 1, "P2": 0, "P3": 0, "P4": 1}


def test_rollbacks_against_their_recovery_time_objectives() -> None:
    def one(rid: str, kind: str, minutes: int) -> RollbackFacts:
        done = facts(rid, at(12), executed=(at(12, 10), at(12, 10) + timedelta(minutes=minutes)))
        return done.model_copy(update={"kind": kind})

    month = [one("D1", "database", 50), one("D2", "database", 75), one("K1", "deployment", 12)]
    report = monthly_report(month, NOV, NOW)
    assert report.targets["database rollbacks within 1 h"] == "missed (1 of 2 in time)"
    assert report.targets["deployment rollbacks within 15 min"] == "met"
    assert report.targets["deployment rollbacks within 10 min (rollback standard)"] == (
        "missed (0 of 1 in time)"
    )
    times = report.metrics.rollback_times["database rollbacks within 1 h"]
    assert (times.rollbacks, times.within, times.limit_minutes) == (2, 1, 60)
