"""The rollback request and its state machine. `apply` is the only way a request moves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain import approvals as ap
from bot.domain.database_rollback import DatabasePlan
from bot.domain.decision import Recommendation, RollbackAction
from bot.domain.events import (
    Effect,
    Obligation,
    ObligationKind,
    ScheduleObligation,
)
from bot.domain.people import Person
from bot.domain.policy import (
    Act,
    ActRule,
    Deadlines,
    MatrixRow,
    Role,
    RollbackType,
    default_acts,
)
from bot.domain.severity import SeverityAssessment


class RequestState(StrEnum):
    PROPOSED = "proposed"
    AWAITING_DECISION = "awaiting_decision"
    FORWARD_FIX_CHOSEN = "forward_fix_chosen"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    EXECUTING = "executing"
    VERIFYING = "verifying"
    COMPLETED = "completed"
    # Rolled back, but nothing proved recovery (no checks are configured for the service):
    # it ended, and a person is asked to confirm the service works.
    RECOVERY_UNVERIFIED = "recovery_unverified"
    # Top severity: rolled back (checked or not), and not closed until a person confirms the
    # service works for its users (the runbook asks for a real user's confirmation at P1).
    AWAITING_RECOVERY_CONFIRMATION = "awaiting_recovery_confirmation"
    FAILED = "failed"
    DENIED = "denied"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in TERMINAL

    @property
    def waits_for_a_person(self) -> bool:
        """Rolled back, and a person's confirmation of recovery is what is missing."""
        return self in (
            RequestState.RECOVERY_UNVERIFIED,
            RequestState.AWAITING_RECOVERY_CONFIRMATION,
        )

    @property
    def holds_target(self) -> bool:
        """Whether the request still may act on its target: a rolled-back request waiting
        only for a person's confirmation leaves the target to the next request."""
        return self.is_open and self is not RequestState.AWAITING_RECOVERY_CONFIRMATION


TERMINAL = frozenset(
    {
        RequestState.FORWARD_FIX_CHOSEN,
        RequestState.COMPLETED,
        RequestState.RECOVERY_UNVERIFIED,
        RequestState.FAILED,
        RequestState.DENIED,
        RequestState.CANCELLED,
    }
)


class TargetRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    name: str
    namespace: str | None = None

    @property
    def label(self) -> str:
        ns = f" -n {self.namespace}" if self.namespace else ""
        return f"{self.kind}/{self.name}{ns}"


class RequestRules(BaseModel):
    """The policy in force when the request opened, kept with it so it is judged consistently."""

    model_config = ConfigDict(frozen=True)

    row: MatrixRow
    deadlines: Deadlines
    auto_rollback_on_timeout: bool = True
    # Who may do what to this request (requests stored before the rule get the defaults).
    acts: dict[Act, ActRule] = Field(default_factory=default_acts)


class RollbackRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    channel: str
    requester: Person
    requester_roles: frozenset[Role] = frozenset()
    target: TargetRef
    rollback_type: RollbackType
    assessment: SeverityAssessment
    rules: RequestRules
    reason: str
    created_at: datetime
    updated_at: datetime
    incident_id: str | None = None
    # Where the command was typed, when that was not the incident channel itself.
    origin_channel: str | None = None
    ticket: str | None = None
    baseline_revision: str | None = None
    to_revision: str | None = None
    # What the requester asked to roll back to; None: "the previous one", worked out from what
    # is live whenever the plan is made (at opening, and again right before execution).
    requested_revision: str | None = None
    # What runs before and after the rollback, as people know it (images); see Preflight.
    baseline_identity: str | None = None
    to_identity: str | None = None
    # Set when the plan would re-deploy what a recent rollback rolled back from: it needs the
    # older-version approval and never runs by an automatic path.
    known_bad: str | None = None
    state: RequestState = RequestState.PROPOSED
    version: int = 0
    recommendation: Recommendation | None = None
    decision: RollbackAction | None = None
    decided_by: Person | None = None
    decision_deadline: datetime | None = None
    approvals: tuple[ap.Approval, ...] = ()
    retro_approvals: tuple[ap.Approval, ...] = ()
    override: ap.EmergencyOverride | None = None
    obligations: tuple[Obligation, ...] = ()
    outcome: str | None = None
    # While executing: the platform's own review the rollback waits on, with its link.
    waiting_on: str | None = None
    # Why this rollback needs a security reviewer's eye (authn/authz touched); empty if none.
    security_implications: tuple[str, ...] = ()
    # What the preflight found the rollback will change, shown to approvers before they approve.
    preflight: str | None = None
    # The database the plan downgrades before the target is rolled back (a release whose older
    # revision expects an older schema), or the database target's own downgrade.
    database_plan: DatabasePlan | None = None
    # the migration a person named for the destination (`--to-migration`), checked again with it
    requested_migration: str | None = None
    # the last rehearsal of this rollback (a drill of the same service), as the card says it
    last_drill: str | None = None
    # Recovery checks by kind (health_check, smoke_tests, metrics), as the verifier reported them.
    verification: dict[str, str] = {}
    # When the problem was first seen (an alert's startsAt), for MTTD; None if a person opened it.
    detected_at: datetime | None = None
    # Until when recovery is re-checked after it was verified (None: not watched).
    watch_until: datetime | None = None
    # Why people must approve again: the plan changed after it was approved (the target moved,
    # or could not be read before execution). While set, nothing is approved automatically.
    plan_changed: str | None = None

    @property
    def needed_roles(self) -> tuple[Role, ...]:
        return ap.roles_needed_now(
            self.rules.row,
            self.requester_roles,
            self.override,
            recheck=self.plan_changed is not None,
        )

    @property
    def open_roles(self) -> tuple[Role, ...]:
        return ap.open_roles(self.needed_roles, self.approvals)

    @property
    def approvals_satisfied(self) -> bool:
        return not self.open_roles

    @property
    def auto_approved(self) -> bool:
        return (
            self.override is None
            and self.plan_changed is None
            and ap.is_auto_approved(self.rules.row, self.requester_roles)
        )

    def obligation(self, kind: ObligationKind) -> Obligation | None:
        return next((o for o in self.obligations if o.kind is kind), None)

    def obligation_due(self, kind: str) -> datetime | None:
        found = self.obligation(ObligationKind(kind))
        return None if found is None else found.due


class Outcome(BaseModel):
    """What one handler decided: the new field values, the audit line and any other effects."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    state: RequestState
    action: str
    actor: Person
    updates: dict[str, Any] = {}
    details: dict[str, str] = {}
    effects: tuple[Effect, ...] = ()


Handler = Callable[[RollbackRequest, Any, datetime], Outcome]


def obligation_deadline(request: RollbackRequest, kind: ObligationKind) -> timedelta | None:
    """How long after its trigger an obligation falls due; None if this request has none."""
    if kind is ObligationKind.DECISION_SLA:
        return request.assessment.decision_sla
    if kind is ObligationKind.CUSTOMER_NOTIFICATION:
        return request.assessment.profile.customer_notification
    delta: timedelta = getattr(request.rules.deadlines, kind.value)
    return delta


def add_obligation(
    request: RollbackRequest, kind: ObligationKind, now: datetime
) -> tuple[tuple[Obligation, ...], ScheduleObligation | None]:
    """Create an obligation once; a second trigger never moves an existing deadline."""
    delta = obligation_deadline(request, kind)
    if request.obligation(kind) is not None or delta is None:
        return request.obligations, None
    ob = Obligation(kind=kind, due=now + delta, created_at=now)
    return (*request.obligations, ob), ScheduleObligation(obligation=ob)
