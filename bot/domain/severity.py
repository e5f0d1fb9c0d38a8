"""Severity classification (the incident response standard "Incident Severity & Escalation")."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.errors import InvalidSeverityError

# The change management guide: an error rate above 5 % is a rollback trigger.
ERROR_RATE_TRIGGER = 0.05
# The change management guide: response time above 2x baseline is a rollback trigger.
LATENCY_TRIGGER = 2.0


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        return int(self.value[1])


TOP_SEVERITY = Severity.P1


class SeverityProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    decision_sla: timedelta
    pages: str
    customer_notification: timedelta | None
    # The policy role paged at once (P1, P2); P3 posts to #incidents, P4 leaves a ticket note.
    paged_role: str | None = None


PROFILES: dict[Severity, SeverityProfile] = {
    Severity.P1: SeverityProfile(
        label="critical",
        decision_sla=timedelta(hours=1),
        pages="VP Engineering",
        customer_notification=timedelta(minutes=30),
        paged_role="vp_engineering",
    ),
    Severity.P2: SeverityProfile(
        label="high",
        decision_sla=timedelta(hours=4),
        pages="Engineering Lead",
        customer_notification=timedelta(hours=2),
        paged_role="engineering_lead",
    ),
    Severity.P3: SeverityProfile(
        label="medium",
        decision_sla=timedelta(hours=8),
        pages="#incidents",
        customer_notification=timedelta(hours=4),
    ),
    Severity.P4: SeverityProfile(
        label="low", decision_sla=timedelta(hours=24), pages="ticket", customer_notification=None
    ),
}


def parse_severity(text: str) -> Severity:
    """Accept P1..P4 in any case; the runbook's P0 is our top class."""
    cleaned = text.strip().upper()
    if cleaned == "P0":
        return TOP_SEVERITY
    try:
        return Severity(cleaned)
    except ValueError:
        raise InvalidSeverityError(
            f"unknown severity {text!r}: use P1, P2, P3 or P4 (P0 means P1)"
        ) from None


class SeveritySignals(BaseModel):
    """What a responder can answer in seconds."""

    model_config = ConfigDict(frozen=True)

    total_outage: bool = False
    data_loss: bool = False
    security_breach: bool = False
    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    latency_ratio: float | None = Field(default=None, ge=0.0)
    feature_broken: bool = False
    critical_to_customers: bool = False
    customer_visible: bool = True


class SeverityOverride(BaseModel):
    model_config = ConfigDict(frozen=True)

    severity: Severity
    reason: str
    by: str


class SeverityAssessment(BaseModel):
    model_config = ConfigDict(frozen=True)

    computed: Severity
    reason: str
    override: SeverityOverride | None = None

    @property
    def severity(self) -> Severity:
        return self.override.severity if self.override else self.computed

    @property
    def profile(self) -> SeverityProfile:
        return PROFILES[self.severity]

    @property
    def decision_sla(self) -> timedelta:
        return self.profile.decision_sla

    @property
    def pages(self) -> str:
        return self.profile.pages


def _rule(signals: SeveritySignals) -> tuple[Severity, str]:
    errors = signals.error_rate or 0.0
    slow = (signals.latency_ratio or 0.0) > LATENCY_TRIGGER
    if signals.total_outage or errors >= 1.0:
        return Severity.P1, "total service outage"
    if signals.data_loss:
        return Severity.P1, "data loss or corruption"
    if signals.security_breach:
        return Severity.P1, "security breach: customer data exposed"
    if errors > ERROR_RATE_TRIGGER:
        return Severity.P2, f"partial degradation: {errors:.0%} of requests failing"
    if signals.feature_broken and signals.critical_to_customers:
        return Severity.P2, "feature broken that customers depend on"
    if slow and errors > 0.0:
        return Severity.P2, "slow responses with some requests failing"
    if slow:
        return Severity.P3, "performance: latency above 2x baseline"
    if signals.feature_broken and signals.customer_visible:
        return Severity.P3, "non-critical feature broken"
    if errors > 0.0:
        return Severity.P3, f"some requests failing ({errors:.1%}), below the 5% trigger"
    if signals.customer_visible:
        return Severity.P4, "cosmetic issue"
    return Severity.P4, "internal-only issue"


def classify(signals: SeveritySignals) -> SeverityAssessment:
    severity, reason = _rule(signals)
    return SeverityAssessment(computed=severity, reason=reason)


def override_severity(
    assessment: SeverityAssessment, severity: Severity, reason: str, by: str
) -> SeverityAssessment:
    """A human may reclassify; the computed class and the reason stay on record."""
    if not reason.strip():
        raise InvalidSeverityError("a severity override needs a reason")
    return assessment.model_copy(
        update={"override": SeverityOverride(severity=severity, reason=reason.strip(), by=by)}
    )


def declared(severity: Severity | None, by: str) -> SeverityAssessment:
    """Severity stated by the requester on the command line, or a placeholder until classified."""
    if severity is None:
        return SeverityAssessment(
            computed=Severity.P2, reason="not classified yet: treated as P2 until someone sets it"
        )
    return SeverityAssessment(computed=severity, reason=f"declared by {by}")
