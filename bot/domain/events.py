"""What can happen to a rollback request (events) and what must follow (effects)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bot.domain.database_rollback import DatabasePlan
from bot.domain.decision import Recommendation
from bot.domain.people import SYSTEM, Person
from bot.domain.policy import Role


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- events -------------------------------------------------------------------------------


class PromptDecision(_Frozen):
    recommendation: Recommendation


class ChooseRollback(_Frozen):
    by: Person
    roles: frozenset[Role] = frozenset()


class ChooseForwardFix(_Frozen):
    by: Person
    roles: frozenset[Role] = frozenset()


class DecisionTimedOut(_Frozen):
    by: Person = SYSTEM


class Approve(_Frozen):
    by: Person
    roles: frozenset[Role]


class Deny(_Frozen):
    by: Person
    roles: frozenset[Role]
    reason: str


class DeclareEmergencyOverride(_Frozen):
    by: Person
    roles: frozenset[Role]
    reason: str


class TargetMoved(_Frozen):
    """The live revision is no longer the one the approvals were given against."""

    live_revision: str


class PlanChanged(_Frozen):
    """Checked right before execution, the target is not what the approvals were given for (or
    could not be read). `live_revision` and `to_revision` are None when it could not be read."""

    live_revision: str | None
    to_revision: str | None
    preflight: str | None
    reason: str
    live_identity: str | None = None
    to_identity: str | None = None
    # the fresh plan's database part (None: none), when the target could be read
    database_plan: DatabasePlan | None = None


class StartExecution(_Frozen):
    pass


class ExecutionSucceeded(_Frozen):
    to_revision: str


class ExecutionFailed(_Frozen):
    reason: str


class PlatformReviewOpened(_Frozen):
    """The rollback waits on the platform's own review of the change (a LaunchDarkly approval
    request, an Unleash change request), after rollbot's approvals."""

    what: str  # "LaunchDarkly approval request"
    link: str
    why: str = ""  # "LaunchDarkly requires approval in production"


class VerificationPassed(_Frozen):
    summary: str = "health checks passed"
    checks: dict[str, str] = {}


class VerificationFailed(_Frozen):
    reason: str
    checks: dict[str, str] = {}


class VerificationSkipped(_Frozen):
    """No check ran (none are configured): recovery is neither proved nor disproved."""

    summary: str
    checks: dict[str, str] = {}


class Cancel(_Frozen):
    by: Person
    roles: frozenset[Role]
    reason: str


class RetroApprove(_Frozen):
    by: Person
    roles: frozenset[Role]


class ConfirmRecovery(_Frozen):
    """A person saw the service working again: the user validation of the runbook's checklist."""

    by: Person
    roles: frozenset[Role] = frozenset()


class RecoveryDrifted(_Frozen):
    """A re-check in the watch window after a verified rollback failed."""

    reason: str
    checks: dict[str, str] = {}


class ObligationKind(StrEnum):
    RETRO_APPROVAL = "retro_approval"
    EMERGENCY_WRITTEN_APPROVAL = "emergency_written_approval"
    POST_EMERGENCY_REVIEW = "post_emergency_review"
    POST_MORTEM = "post_mortem"
    # The incident response standard: each severity has an SLA; the request is chased until someone decides.
    DECISION_SLA = "decision_sla"
    # The incident response standard: customers hear of a P1 within 30 min, a P2 within 2 h, a P3 within 4 h.
    CUSTOMER_NOTIFICATION = "customer_notification"
    # A rollback whose recovery no check verified: a person confirms the service works.
    RECOVERY_CONFIRMATION = "recovery_confirmation"


class MeetObligation(_Frozen):
    kind: ObligationKind
    by: Person
    evidence: str
    roles: frozenset[Role] = frozenset()


Event = (
    PromptDecision
    | ChooseRollback
    | ChooseForwardFix
    | DecisionTimedOut
    | Approve
    | Deny
    | DeclareEmergencyOverride
    | TargetMoved
    | PlanChanged
    | StartExecution
    | ExecutionSucceeded
    | ExecutionFailed
    | PlatformReviewOpened
    | VerificationPassed
    | VerificationFailed
    | VerificationSkipped
    | Cancel
    | RetroApprove
    | MeetObligation
    | ConfirmRecovery
    | RecoveryDrifted
)


# --- effects ------------------------------------------------------------------------------


class Obligation(_Frozen):
    kind: ObligationKind
    due: datetime
    created_at: datetime
    met_at: datetime | None = None
    met_by: Person | None = None
    evidence: str | None = None


class AuditEffect(_Frozen):
    action: str
    actor: Person
    from_state: str
    to_state: str
    details: dict[str, str]


class ScheduleObligation(_Frozen):
    obligation: Obligation


class ScheduleDecisionTimeout(_Frozen):
    due: datetime


class ScheduleRecoveryWatch(_Frozen):
    """Re-check recovery at `due`, and on, until the request's watch window closes."""

    due: datetime


class ExecuteRollback(_Frozen):
    pass


class AnnounceAutomaticRollback(_Frozen):
    reason: str


# Who a failed rollback pages by name (the runbook's escalation: engineering lead, on-call SRE).
FAILURE_PAGES = (Role.ENGINEERING_LEAD, Role.ON_CALL)


class Escalate(_Frozen):
    reason: str
    # Roles paged by name, in the channel and directly (a failed rollback: the engineering lead
    # and the on-call engineer, as the runbook names them). Empty: the timeline line only.
    page: tuple[Role, ...] = ()


class PreserveState(_Frozen):
    reason: str


Effect = (
    AuditEffect
    | ScheduleObligation
    | ScheduleDecisionTimeout
    | ScheduleRecoveryWatch
    | ExecuteRollback
    | AnnounceAutomaticRollback
    | Escalate
    | PreserveState
)
