"""Opening a rollback request: the one event that creates rather than moves a request."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.database_rollback import DatabasePlan
from bot.domain.events import AuditEffect, ObligationKind
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy, Role, RollbackType
from bot.domain.request import RequestRules, RequestState, RollbackRequest, TargetRef
from bot.domain.severity import SeverityAssessment


def open_rollback_request(
    *,
    request_id: str,
    channel: str,
    requester: Person,
    requester_roles: frozenset[Role],
    target: TargetRef,
    rollback_type: RollbackType,
    assessment: SeverityAssessment,
    policy: ApprovalPolicy,
    reason: str,
    now: datetime,
    ticket: str | None = None,
    to_revision: str | None = None,
    requested_revision: str | None = None,
    identities: tuple[str | None, str | None] = (None, None),
    known_bad: str | None = None,
    incident_id: str | None = None,
    origin_channel: str | None = None,
    baseline_revision: str | None = None,
    security_implications: tuple[str, ...] = (),
    preflight: str | None = None,
    detected_at: datetime | None = None,
    database_plan: DatabasePlan | None = None,
) -> tuple[RollbackRequest, AuditEffect]:
    service = policy.service(target.name)
    rules = RequestRules(
        row=policy.row(rollback_type),
        deadlines=policy.deadlines,
        acts=policy.acts,
        # a plan back into a version rolled back from never runs by itself
        auto_rollback_on_timeout=service.auto_rollback_on_timeout and known_bad is None,
    )
    request = RollbackRequest(
        id=request_id,
        channel=channel,
        requester=requester,
        requester_roles=requester_roles,
        target=target,
        rollback_type=rollback_type,
        assessment=assessment,
        rules=rules,
        reason=reason,
        created_at=now,
        updated_at=now,
        ticket=ticket,
        to_revision=to_revision,
        requested_revision=requested_revision,
        baseline_identity=identities[0],
        to_identity=identities[1],
        known_bad=known_bad,
        incident_id=incident_id,
        origin_channel=origin_channel,
        baseline_revision=baseline_revision,
        security_implications=security_implications,
        preflight=preflight,
        detected_at=detected_at,
        database_plan=database_plan,
    )
    return request, _opened(request)


def _opened(request: RollbackRequest) -> AuditEffect:
    security = request.security_implications
    return AuditEffect(
        action="request.opened",
        actor=request.requester,
        from_state="",
        to_state=RequestState.PROPOSED.value,
        details={
            "target": request.target.label,
            "rollback_type": request.rollback_type.value,
            "severity": request.assessment.severity.value,
            "reason": request.reason,
            **({"security": "; ".join(security)} if security else {}),
        },
    )


def rolled_back_from(
    earlier: list[RollbackRequest], to_identity: str | None, now: datetime, window: timedelta
) -> str | None:
    """Why a plan needs a second look: it would re-deploy what an executed rollback of the same
    target rolled back from, within `window`. None when it would not (or rollbot cannot tell)."""
    if to_identity is None:
        return None
    for before in earlier:
        executed = before.obligation(ObligationKind.POST_MORTEM) is not None
        recent = now - before.updated_at <= window
        if executed and recent and before.baseline_identity == to_identity:
            return (
                f"this re-deploys {to_identity}, which {before.id} rolled back from on "
                f"{before.updated_at:%Y-%m-%d} at {before.updated_at:%H:%M} UTC"
            )
    return None
