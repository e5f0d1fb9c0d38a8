"""The standards' own measures (the incident response standard: MTTR, MTTD, rollback count, success rate, average
rollback time; the change management guide: emergency changes < 5 %, successful changes > 95 %, rollback rate < 5 %),
computed from what rollbot recorded. Pure: facts and the time of the report come in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from statistics import mean

from pydantic import BaseModel, ConfigDict

from bot.domain.events import Obligation, ObligationKind
from bot.domain.rollback_tests import RollbackTests
from bot.domain.severity import Severity

K = ObligationKind


class RollbackFacts(BaseModel):
    """One rollback request as the audit log tells it."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    incident_id: str | None
    target: str
    severity: Severity
    opened_at: datetime
    # When the problem was first seen (an alert's startsAt); None when a person opened it.
    detected_at: datetime | None = None
    state: str
    executed_at: datetime | None = None
    executed_until: datetime | None = None
    recovered_at: datetime | None = None
    emergency: bool = False
    obligations: tuple[Obligation, ...] = ()
    # "database" when the plan downgraded or restored a database, else the target's kind
    kind: str = "deployment"


class Month(BaseModel):
    model_config = ConfigDict(frozen=True)

    year: int
    month: int

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.following.start

    @property
    def following(self) -> Month:
        return Month(year=self.year + self.month // 12, month=self.month % 12 + 1)

    @property
    def before(self) -> Month:
        return Month(year=self.year - (self.month == 1), month=(self.month - 2) % 12 + 1)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, text: str) -> Month:
        year, _, month = text.partition("-")
        if not (year.isdigit() and month.isdigit() and 1 <= int(month) <= 12 and len(year) == 4):
            raise ValueError(f"`{text}` is not a month such as 2026-11")
        return cls(year=int(year), month=int(month))


class MonthlyMetrics(BaseModel):
    model_config = ConfigDict(frozen=True)

    month: str
    incidents: int
    requests: int
    by_severity: dict[str, int]
    mttd_minutes: float | None
    mttr_minutes: float | None
    rollback_count: int
    success_rate: float | None
    average_rollback_minutes: float | None
    emergency_share: float | None
    rollback_rate: float | None
    successful_changes: float | None
    sla_breaches: int
    late_customer_notifications: int
    overdue_post_mortems: tuple[str, ...]
    overdue_retro_approvals: tuple[str, ...]
    # executed rollbacks of each kind, and how many finished within each recovery objective
    rollback_times: dict[str, RecoveryObjective] = {}


class RecoveryObjective(BaseModel):
    """Rollbacks of one kind against one recovery time objective."""

    model_config = ConfigDict(frozen=True)

    objective: str
    limit_minutes: int
    rollbacks: int
    within: int


class Trend(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    values: tuple[float | None, ...]  # oldest first: two months before, the month before, this
    direction: str  # improving | worsening | steady | no data


class MonthlyReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    metrics: MonthlyMetrics
    trends: tuple[Trend, ...]
    targets: dict[str, str]
    definitions: dict[str, str]
    # the month's drills and readiness answers (None: not read for this report)
    rollback_tests: RollbackTests | None = None


MonthlyMetrics.model_rebuild()

# (name, kinds of rollback, minutes): the change management guide's recovery time objectives
# (a database rollback under 1 hour, a deployment rollback under 15 minutes) and the rollback
# standard's 10 minutes for a deployment.
OBJECTIVES = (
    ("database rollbacks within 1 h", ("database",), 60),
    ("deployment rollbacks within 15 min", ("deployment", "codedeploy"), 15),
    ("deployment rollbacks within 10 min (rollback standard)", ("deployment", "codedeploy"), 10),
)


def rollback_times(executed: list[RollbackFacts]) -> dict[str, RecoveryObjective]:
    """Each objective: the executed rollbacks of its kinds, and those that finished in time
    (from the rollback starting to the platform reporting it done)."""
    found = {}
    for name, kinds, minutes in OBJECTIVES:
        spans = [
            f.executed_until - f.executed_at
            for f in executed
            if f.kind in kinds and f.executed_at and f.executed_until
        ]
        found[name] = RecoveryObjective(
            objective=name,
            limit_minutes=minutes,
            rollbacks=len(spans),
            within=sum(span <= timedelta(minutes=minutes) for span in spans),
        )
    return found


def _objective_verdict(o: RecoveryObjective) -> str:
    if o.rollbacks == 0:
        return "not known"
    return "met" if o.within == o.rollbacks else f"missed ({o.within} of {o.rollbacks} in time)"


DEFINITIONS = {
    "incidents": "incidents declared in the month (an incident that spans the month's end counts in the month it was declared), by the highest severity any of its rollback requests had; a request opened outside an incident counts as one",
    "requests": "rollback requests opened in the month",
    "MTTD": "mean time from the first alert (Alertmanager's startsAt) to the request; requests a person opened have no detection time and are left out",
    "MTTR": "mean time from the request to recovery verified, over requests that recovered",
    "rollback count": "rollbacks executed (the rollback started)",
    "success rate": "executed rollbacks whose recovery was verified, over all executed",
    "average rollback time": "mean time from the rollback starting to the platform reporting it done",
    "emergency share": "executed rollbacks that ran on an emergency override, over all executed (change management guide: < 5 %)",
    "rollback rate": "executed rollbacks over production deployments in the month (change management guide: < 5 %); needs the deployment count",
    "successful changes": "deployments not rolled back, over all deployments (change management guide: > 95 %); needs the deployment count",
    "SLA breaches": "requests decided after their severity's decision SLA (P1 1 h, P2 4 h, P3 8 h, P4 24 h), or still undecided past it",
    "late customer notifications": "customers told after the severity's deadline (P1 30 min, P2 2 h, P3 4 h), or not yet told past it",
    "overdue": "post-mortems (48 h) and retroactive approvals (4 h) met late, or unmet past their deadline when the report was made",
    "recovery time objectives": "executed rollbacks that finished, from the rollback starting to the platform reporting it done, within the change management guide's objectives (a database rollback under 1 hour, a deployment rollback under 15 minutes) and the rollback standard's 10 minutes for a deployment; a deployment rollback with a database step counts as a database rollback",
    "rollback drills": "rollbacks rehearsed in a drill environment in the month (`rollbot drill`); a drill passes when its rollback is verified within the policy's target and the roll-forward restores the starting version (rollback standard)",
    "readiness gate": "the answers `rollbot readiness` gave deploys in the month; not ready holds the deploy back until its rollback has a recent passing drill",
    "trend": "this month against the month before: improving when MTTR or the rollback count fell, or the success rate rose",
}


def _minutes(spans: list[timedelta]) -> float | None:
    return round(mean(s.total_seconds() for s in spans) / 60, 1) if spans else None


def _share(part: int, whole: int | None) -> float | None:
    return round(part / whole, 4) if whole else None


def _late(obligation: Obligation | None, now: datetime) -> bool:
    if obligation is None:
        return False
    done = obligation.met_at or now
    return done > obligation.due


def _obligation(facts: RollbackFacts, kind: ObligationKind) -> Obligation | None:
    return next((o for o in facts.obligations if o.kind is kind), None)


def _incidents(facts: list[RollbackFacts]) -> dict[str, Severity]:
    """Each incident once, at the highest severity of its requests (P1 is the highest)."""
    order = list(Severity)
    found: dict[str, Severity] = {}
    for f in facts:
        key = f.incident_id or f.request_id
        known = found.get(key)
        if known is None or order.index(f.severity) < order.index(known):
            found[key] = f.severity
    return found


def _by_severity(facts: list[RollbackFacts]) -> dict[str, int]:
    worst = list(_incidents(facts).values())
    return {s.value: worst.count(s) for s in Severity}


def month_metrics(
    facts: list[RollbackFacts], month: Month, now: datetime, deployments: int | None = None
) -> MonthlyMetrics:
    mine = [f for f in facts if month.start <= f.opened_at < month.end]
    executed = [f for f in mine if f.executed_at is not None]
    recovered = [f for f in mine if f.recovered_at is not None]
    return MonthlyMetrics(
        month=month.label,
        incidents=len(_incidents(mine)),
        requests=len(mine),
        by_severity=_by_severity(mine),
        mttd_minutes=_minutes([f.opened_at - f.detected_at for f in mine if f.detected_at]),
        mttr_minutes=_minutes([f.recovered_at - f.opened_at for f in recovered if f.recovered_at]),
        rollback_count=len(executed),
        success_rate=_share(len([f for f in executed if f.recovered_at]), len(executed)),
        average_rollback_minutes=_minutes(
            [
                f.executed_until - f.executed_at
                for f in executed
                if f.executed_until and f.executed_at
            ]
        ),
        emergency_share=_share(sum(f.emergency for f in executed), len(executed)),
        rollback_rate=_share(len(executed), deployments),
        successful_changes=(
            _share(deployments - len(executed), deployments) if deployments else None
        ),
        sla_breaches=sum(_late(_obligation(f, K.DECISION_SLA), now) for f in mine),
        late_customer_notifications=sum(
            _late(_obligation(f, K.CUSTOMER_NOTIFICATION), now) for f in mine
        ),
        overdue_post_mortems=tuple(
            f.request_id for f in mine if _late(_obligation(f, K.POST_MORTEM), now)
        ),
        overdue_retro_approvals=tuple(
            f.request_id for f in mine if _late(_obligation(f, K.RETRO_APPROVAL), now)
        ),
        rollback_times=rollback_times(executed),
    )


def _direction(before: float | None, now: float | None, lower_is_better: bool) -> str:
    if before is None or now is None:
        return "no data"
    if now == before:
        return "steady"
    return "improving" if (now < before) == lower_is_better else "worsening"


def monthly_report(
    facts: list[RollbackFacts],
    month: Month,
    now: datetime,
    deployments: int | None = None,
    tests: RollbackTests | None = None,
) -> MonthlyReport:
    this = month_metrics(facts, month, now, deployments)
    previous = month_metrics(facts, month.before, now)
    oldest = month_metrics(facts, month.before.before, now)
    trends = tuple(
        Trend(
            metric=name,
            values=tuple(getattr(m, field) for m in (oldest, previous, this)),
            direction=_direction(getattr(previous, field), getattr(this, field), lower),
        )
        for name, field, lower in (
            ("MTTR (min)", "mttr_minutes", True),
            ("success rate", "success_rate", False),
            ("rollback count", "rollback_count", True),
        )
    )
    targets = {
        "emergency share < 5 %": _verdict(this.emergency_share, lambda v: v < 0.05),
        "successful changes > 95 %": _verdict(this.successful_changes, lambda v: v > 0.95),
        "rollback rate < 5 %": _verdict(this.rollback_rate, lambda v: v < 0.05),
        **{name: _objective_verdict(o) for name, o in this.rollback_times.items()},
    }
    return MonthlyReport(
        metrics=this,
        trends=trends,
        targets=targets,
        definitions=DEFINITIONS,
        rollback_tests=tests,
    )


def _verdict(value: float | None, good: Callable[[float], bool]) -> str:
    if value is None:
        return "not known"
    return "met" if good(value) else "missed"
