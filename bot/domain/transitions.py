"""Transition rules: for each event, the states that accept it and what it does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain import aftercare, verification
from bot.domain import approvals as ap
from bot.domain import events as ev
from bot.domain.acts import check_act
from bot.domain.decision import RollbackAction
from bot.domain.errors import (
    DomainError,
    ExecutionGuardError,
    IllegalTransitionError,
    OverrideRefusedError,
)
from bot.domain.people import SYSTEM
from bot.domain.policy import Act
from bot.domain.request import (
    Handler,
    Outcome,
    RequestState,
    RollbackRequest,
    add_obligation,
)

S = RequestState
_PRE_DECISION = frozenset({S.PROPOSED, S.AWAITING_DECISION})
_PRE_EXECUTION = frozenset({S.PROPOSED, S.AWAITING_DECISION, S.AWAITING_APPROVAL, S.APPROVED})


def _gate(
    request: RollbackRequest, updates: dict[str, Any]
) -> tuple[RequestState, tuple[ev.Effect, ...]]:
    """After a rollback is chosen or approvals change: approved (and execute) or still waiting."""
    probe = request.model_copy(update=updates)
    if probe.approvals_satisfied:
        return S.APPROVED, () if request.state is S.APPROVED else (ev.ExecuteRollback(),)
    return S.AWAITING_APPROVAL, ()


def _prompt(r: RollbackRequest, e: ev.PromptDecision, now: datetime) -> Outcome:
    """The incident is declared: its severity's SLA and customer-notification clocks start."""
    updates: dict[str, Any] = {"recommendation": e.recommendation}
    effects: list[ev.Effect] = []
    staged = r
    for kind in (ev.ObligationKind.DECISION_SLA, ev.ObligationKind.CUSTOMER_NOTIFICATION):
        obligations, scheduled = add_obligation(staged, kind, now)
        staged = staged.model_copy(update={"obligations": obligations})
        effects.extend([scheduled] if scheduled else [])
    updates["obligations"] = staged.obligations
    if r.rules.auto_rollback_on_timeout:
        due = now + r.rules.deadlines.decision_timeout
        updates["decision_deadline"] = due
        effects.append(ev.ScheduleDecisionTimeout(due=due))
    return Outcome(
        state=S.AWAITING_DECISION,
        action="decision.prompted",
        actor=SYSTEM,
        updates=updates,
        details={"recommendation": e.recommendation.action.value},
        effects=tuple(effects),
    )


def _choose_rollback(r: RollbackRequest, e: ev.ChooseRollback, now: datetime) -> Outcome:
    under = check_act(Act.DECIDE, r, e.by, e.roles)
    updates: dict[str, Any] = {"decision": RollbackAction.ROLLBACK, "decided_by": e.by}
    state, effects = _gate(r, updates)
    return Outcome(
        state=state,
        action="decision.rollback",
        actor=e.by,
        updates=updates,
        details={"role": under},
        effects=effects,
    )


def _choose_fix(r: RollbackRequest, e: ev.ChooseForwardFix, now: datetime) -> Outcome:
    under = check_act(Act.DECIDE, r, e.by, e.roles)
    updates = {
        "decision": RollbackAction.FORWARD_FIX,
        "decided_by": e.by,
        "outcome": "forward fix chosen",
    }
    return Outcome(
        state=S.FORWARD_FIX_CHOSEN,
        action="decision.forward_fix",
        actor=e.by,
        updates=updates,
        details={"role": under},
    )


def _timed_out(r: RollbackRequest, e: ev.DecisionTimedOut, now: datetime) -> Outcome:
    if r.decision_deadline is None:
        raise DomainError("automatic rollback on decision timeout is turned off for this service")
    if now < r.decision_deadline:
        raise DomainError(f"the decision is not due until {r.decision_deadline.isoformat()}")
    updates: dict[str, Any] = {"decision": RollbackAction.ROLLBACK, "decided_by": e.by}
    state, effects = _gate(r, updates)
    minutes = int(r.rules.deadlines.decision_timeout.total_seconds() // 60)
    announce = ev.AnnounceAutomaticRollback(
        reason=f"no decision within {minutes} minutes of the prompt: the incident response standard makes the rollback automatic"
    )
    return Outcome(
        state=state,
        action="decision.timeout_rollback",
        actor=e.by,
        updates=updates,
        effects=(announce, *effects),
    )


def _approve(r: RollbackRequest, e: ev.Approve, now: datetime) -> Outcome:
    acting = (r.override.by,) if r.override else ()
    role = ap.choose_role_to_fill(
        needed=r.needed_roles,
        approvals=r.approvals,
        requester=r.requester,
        already_acting=acting,
        by=e.by,
        roles=e.roles,
    )
    updates: dict[str, Any] = {"approvals": (*r.approvals, ap.Approval(by=e.by, role=role, at=now))}
    state, effects = _gate(r, updates)
    return Outcome(
        state=state,
        action="approval.given",
        actor=e.by,
        updates=updates,
        details={"role": role.value},
        effects=effects,
    )


def _deny(r: RollbackRequest, e: ev.Deny, now: datetime) -> Outcome:
    if not e.reason.strip():
        raise DomainError("a denial needs a reason")
    role = ap.check_denier(needed=r.needed_roles, requester=r.requester, by=e.by, roles=e.roles)
    return Outcome(
        state=S.DENIED,
        action="approval.denied",
        actor=e.by,
        updates={"outcome": f"denied by {e.by.label}: {e.reason.strip()}"},
        details={"role": role.value, "reason": e.reason.strip()},
    )


def _override(r: RollbackRequest, e: ev.DeclareEmergencyOverride, now: datetime) -> Outcome:
    if r.override is not None:
        raise OverrideRefusedError(
            f"an emergency override is already declared by {r.override.by.label}"
        )
    ap.check_override(row=r.rules.row, severity=r.assessment.severity, reason=e.reason)
    under = check_act(Act.DECLARE_OVERRIDE, r, e.by, e.roles)
    override = ap.EmergencyOverride(by=e.by, reason=e.reason.strip(), at=now)
    # The override replaces the matrix; approvals given by the declarer no longer count for it.
    kept = tuple(a for a in r.approvals if a.by.id != e.by.id)
    updates: dict[str, Any] = {
        "override": override,
        "approvals": kept,
        "decision": RollbackAction.ROLLBACK,
        "decided_by": r.decided_by or e.by,
    }
    effects: list[ev.Effect] = []
    staged = r
    for kind in (
        ev.ObligationKind.RETRO_APPROVAL,
        ev.ObligationKind.EMERGENCY_WRITTEN_APPROVAL,
        ev.ObligationKind.POST_EMERGENCY_REVIEW,
    ):
        obligations, scheduled = add_obligation(staged, kind, now)
        staged = staged.model_copy(update={"obligations": obligations})
        effects.extend([scheduled] if scheduled else [])
    updates["obligations"] = staged.obligations
    state, gate_effects = _gate(r, updates)
    return Outcome(
        state=state,
        action="override.declared",
        actor=e.by,
        updates=updates,
        details={"reason": override.reason, "role": under},
        effects=(*effects, *gate_effects),
    )


def _plan_changed(r: RollbackRequest, e: ev.PlanChanged, now: datetime) -> Outcome:
    """Nothing runs: the approvals lapse, the card shows the new plan, and people are asked."""
    updates: dict[str, Any] = {
        "approvals": (),
        "plan_changed": e.reason,
        "baseline_revision": e.live_revision or r.baseline_revision,
        "to_revision": e.to_revision or r.to_revision,
        "preflight": e.preflight or r.preflight,
        "baseline_identity": e.live_identity or r.baseline_identity,
        "to_identity": e.to_identity or r.to_identity,
        "database_plan": e.database_plan if e.live_revision is not None else r.database_plan,
    }
    return Outcome(
        state=S.AWAITING_APPROVAL,
        action="plan.changed",
        actor=SYSTEM,
        updates=updates,
        details={"reason": e.reason, "lapsed": str(len(r.approvals))},
        effects=(ev.Escalate(reason=f"nothing was rolled back: {e.reason}"),),
    )


def _target_moved(r: RollbackRequest, e: ev.TargetMoved, now: datetime) -> Outcome:
    if e.live_revision == r.baseline_revision:
        raise DomainError("the target has not moved; approvals stand")
    moved = (
        f"the target moved from revision {r.baseline_revision or 'unknown'} to {e.live_revision}"
    )
    updates: dict[str, Any] = {
        "approvals": (),
        "baseline_revision": e.live_revision,
        "plan_changed": moved,
    }
    probe = r.model_copy(update=updates)
    state = S.APPROVED if probe.approvals_satisfied else S.AWAITING_APPROVAL
    return Outcome(
        state=state,
        action="approval.lapsed",
        actor=SYSTEM,
        updates=updates,
        details={
            "was": r.baseline_revision or "unknown",
            "now": e.live_revision,
            "lapsed": str(len(r.approvals)),
        },
    )


def _start(r: RollbackRequest, e: ev.StartExecution, now: datetime) -> Outcome:
    if not r.approvals_satisfied:
        raise ExecutionGuardError(
            f"refusing to execute: still needs {ap.describe_roles(r.open_roles)}"
        )
    return Outcome(state=S.EXECUTING, action="execution.started", actor=SYSTEM)


def _post_mortem(r: RollbackRequest, now: datetime) -> tuple[dict[str, Any], tuple[ev.Effect, ...]]:
    obligations, scheduled = add_obligation(r, ev.ObligationKind.POST_MORTEM, now)
    return {"obligations": obligations}, (scheduled,) if scheduled else ()


def _succeeded(r: RollbackRequest, e: ev.ExecutionSucceeded, now: datetime) -> Outcome:
    updates, effects = _post_mortem(r, now)
    updates["to_revision"] = e.to_revision
    updates["waiting_on"] = None
    return Outcome(
        state=S.VERIFYING,
        action="execution.succeeded",
        actor=SYSTEM,
        updates=updates,
        details={"to_revision": e.to_revision},
        effects=effects,
    )


def _failed(r: RollbackRequest, e: ev.ExecutionFailed, now: datetime) -> Outcome:
    # The rollback runbook: a failed rollback stops, escalates and preserves state; no automatic second try.
    updates, effects = _post_mortem(r, now)
    updates["outcome"] = f"rollback failed: {e.reason}"
    updates["waiting_on"] = None
    return Outcome(
        state=S.FAILED,
        action="execution.failed",
        actor=SYSTEM,
        updates=updates,
        details={"reason": e.reason},
        effects=(
            *effects,
            ev.Escalate(reason=e.reason, page=ev.FAILURE_PAGES),
            ev.PreserveState(reason=e.reason),
        ),
    )


def _review_opened(r: RollbackRequest, e: ev.PlatformReviewOpened, now: datetime) -> Outcome:
    return Outcome(
        state=S.EXECUTING,
        action="execution.awaiting_review",
        actor=SYSTEM,
        updates={"waiting_on": f"{e.what} {e.link}"},
        details={"what": e.what, "link": e.link, "why": e.why},
    )


def _cancel(r: RollbackRequest, e: ev.Cancel, now: datetime) -> Outcome:
    under = check_act(Act.CANCEL, r, e.by, e.roles)
    return Outcome(
        state=S.CANCELLED,
        action="request.cancelled",
        actor=e.by,
        updates={"outcome": f"cancelled by {e.by.label}: {e.reason}"},
        details={"reason": e.reason, "role": under},
    )


ALL_STATES = frozenset(RequestState)

RULES: dict[type[Any], tuple[frozenset[RequestState], Handler]] = {
    ev.PromptDecision: (frozenset({S.PROPOSED}), _prompt),
    ev.ChooseRollback: (_PRE_DECISION, _choose_rollback),
    ev.ChooseForwardFix: (_PRE_DECISION, _choose_fix),
    ev.DecisionTimedOut: (frozenset({S.AWAITING_DECISION}), _timed_out),
    ev.Approve: (frozenset({S.AWAITING_APPROVAL}), _approve),
    ev.Deny: (frozenset({S.AWAITING_APPROVAL, S.APPROVED}), _deny),
    ev.DeclareEmergencyOverride: (_PRE_EXECUTION - {S.APPROVED}, _override),
    ev.TargetMoved: (frozenset({S.AWAITING_APPROVAL, S.APPROVED}), _target_moved),
    ev.PlanChanged: (frozenset({S.APPROVED}), _plan_changed),
    ev.StartExecution: (frozenset({S.APPROVED}), _start),
    ev.ExecutionSucceeded: (frozenset({S.EXECUTING}), _succeeded),
    ev.ExecutionFailed: (frozenset({S.EXECUTING}), _failed),
    ev.PlatformReviewOpened: (frozenset({S.EXECUTING}), _review_opened),
    ev.VerificationPassed: (frozenset({S.VERIFYING}), verification.verified),
    ev.VerificationFailed: (frozenset({S.VERIFYING}), verification.not_recovered),
    ev.VerificationSkipped: (frozenset({S.VERIFYING}), verification.unverified),
    ev.Cancel: (_PRE_EXECUTION, _cancel),
    ev.RetroApprove: (ALL_STATES, aftercare.retro_approve),
    ev.MeetObligation: (ALL_STATES, aftercare.meet_obligation),
    ev.ConfirmRecovery: (
        frozenset({S.COMPLETED, S.RECOVERY_UNVERIFIED, S.AWAITING_RECOVERY_CONFIRMATION}),
        aftercare.confirm_recovery,
    ),
    ev.RecoveryDrifted: (
        frozenset({S.COMPLETED, S.AWAITING_RECOVERY_CONFIRMATION}),
        aftercare.recovery_drifted,
    ),
}


def accepted_states(event_type: type[Any]) -> frozenset[RequestState]:
    return RULES[event_type][0]


def apply(
    request: RollbackRequest, event: ev.Event, now: datetime
) -> tuple[RollbackRequest, tuple[ev.Effect, ...]]:
    """Move a request by one event. Raises a DomainError and changes nothing when refused."""
    states, handler = RULES[type(event)]
    name = type(event).__name__
    if request.state not in states:
        ordered = tuple(s.value for s in RequestState if s in states)
        raise IllegalTransitionError(name, request.state.value, ordered)
    # Replicas' clocks differ a little; time on a request never runs backwards.
    now = max(now, request.updated_at)
    out = handler(request, event, now)
    moved = request.model_copy(
        update={
            **out.updates,
            "state": out.state,
            "updated_at": now,
            "version": request.version + 1,
        }
    )
    moved = moved.model_copy(update={"obligations": aftercare.decision_sla_met(moved, now)})
    audit = ev.AuditEffect(
        action=out.action,
        actor=out.actor,
        from_state=request.state.value,
        to_state=out.state.value,
        details=out.details,
    )
    return moved, (audit, *out.effects)
