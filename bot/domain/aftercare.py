"""What follows a decision and a rollback: obligations met, recovery confirmed or drifting.

Each handler has the shape of bot.domain.transitions' rules and is registered there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain import approvals as ap
from bot.domain import events as ev
from bot.domain.acts import check_act
from bot.domain.errors import DomainError
from bot.domain.people import SYSTEM
from bot.domain.policy import Act
from bot.domain.request import Outcome, RequestState, RollbackRequest

K = ev.ObligationKind


def _met(
    r: RollbackRequest, pending: ev.Obligation, met: ev.Obligation
) -> tuple[ev.Obligation, ...]:
    return tuple(met if o is pending else o for o in r.obligations)


def retro_approve(r: RollbackRequest, e: ev.RetroApprove, now: datetime) -> Outcome:
    pending = r.obligation(K.RETRO_APPROVAL)
    if pending is None or pending.met_at is not None:
        raise DomainError("this request has no retroactive approval outstanding")
    check_act(Act.APPROVE_RETROACTIVELY, r, e.by, e.roles)
    needed = ap.matrix_roles(r.rules.row)
    acting = (r.override.by,) if r.override else ()
    role = ap.choose_role_to_fill(
        needed=needed,
        approvals=r.retro_approvals,
        requester=r.requester,
        already_acting=acting,
        by=e.by,
        roles=e.roles,
    )
    retro = (*r.retro_approvals, ap.Approval(by=e.by, role=role, at=now))
    updates: dict[str, Any] = {"retro_approvals": retro}
    if not ap.open_roles(needed, retro):
        met = pending.model_copy(
            update={"met_at": now, "met_by": e.by, "evidence": "retroactive approvals"}
        )
        updates["obligations"] = _met(r, pending, met)
    return Outcome(
        state=r.state,
        action="approval.retroactive",
        actor=e.by,
        updates=updates,
        details={"role": role.value},
    )


# Obligations a person meets by saying so, each under its act's rule.
_ACT_OF = {
    K.EMERGENCY_WRITTEN_APPROVAL: Act.WRITTEN_APPROVAL,
    K.POST_EMERGENCY_REVIEW: Act.POST_EMERGENCY_REVIEW,
    K.POST_MORTEM: Act.POST_MORTEM,
    K.CUSTOMER_NOTIFICATION: Act.CUSTOMER_NOTIFICATION,
}

# Met by something rollbot sees happen, never by a person saying so.
_MET_BY_EVENTS = {
    K.RETRO_APPROVAL: "a retroactive approval is met by approvals from the required roles",
    K.DECISION_SLA: "the decision SLA is met by deciding on the card",
    K.RECOVERY_CONFIRMATION: "recovery is confirmed with Recovery confirmed on the card",
}


def meet_obligation(r: RollbackRequest, e: ev.MeetObligation, now: datetime) -> Outcome:
    if e.kind in _MET_BY_EVENTS:
        raise DomainError(_MET_BY_EVENTS[e.kind])
    pending = r.obligation(e.kind)
    if pending is None or pending.met_at is not None:
        raise DomainError(f"this request has no {e.kind.value.replace('_', ' ')} outstanding")
    if not e.evidence.strip():
        raise DomainError("meeting an obligation needs evidence (a link or a note)")
    under = check_act(_ACT_OF[e.kind], r, e.by, e.roles)
    met = pending.model_copy(update={"met_at": now, "met_by": e.by, "evidence": e.evidence.strip()})
    return Outcome(
        state=r.state,
        action="obligation.met",
        actor=e.by,
        updates={"obligations": _met(r, pending, met)},
        details={"kind": e.kind.value, "evidence": e.evidence.strip(), "role": under},
    )


def decision_sla_met(moved: RollbackRequest, now: datetime) -> tuple[ev.Obligation, ...]:
    """Once a request is decided or closed, its decision SLA no longer needs chasing."""
    pending = moved.obligation(K.DECISION_SLA)
    decided = moved.decision is not None or not moved.state.is_open
    if pending is None or pending.met_at is not None or not decided:
        return moved.obligations
    how = f"decided: {moved.decision.value}" if moved.decision else f"closed: {moved.state.value}"
    met = pending.model_copy(
        update={"met_at": now, "met_by": moved.decided_by or SYSTEM, "evidence": how}
    )
    return _met(moved, pending, met)


def confirm_recovery(r: RollbackRequest, e: ev.ConfirmRecovery, now: datetime) -> Outcome:
    if "user_validation" in r.verification:
        raise DomainError(f"recovery was already confirmed: {r.verification['user_validation']}")
    under = check_act(Act.CONFIRM_RECOVERY, r, e.by, e.roles)
    said = f"confirmed by {e.by.label} at {now:%H:%M} UTC"
    updates: dict[str, Any] = {"verification": {**r.verification, "user_validation": said}}
    state = r.state
    if r.state.waits_for_a_person:
        # a person's word closes it; with no checks run, it is the only verification there is
        checked = r.watch_until is not None  # set only when the recovery checks passed
        updates["outcome"] = f"recovered: {said}" + (
            "; the recovery checks passed" if checked else " (no automatic checks are configured)"
        )
        state = RequestState.COMPLETED
        pending = r.obligation(K.RECOVERY_CONFIRMATION)
        assert pending is not None  # every rollback waiting for a person is given one
        met = pending.model_copy(update={"met_at": now, "met_by": e.by, "evidence": said})
        updates["obligations"] = _met(r, pending, met)
    return Outcome(
        state=state,
        action="recovery.confirmed",
        actor=e.by,
        updates=updates,
        details={"role": under},
    )


def recovery_drifted(r: RollbackRequest, e: ev.RecoveryDrifted, now: datetime) -> Outcome:
    """A failed re-check within the watch window: the rollback did not hold (the change management guide)."""
    # One interval of grace: the window's last re-check may run a little after the window.
    if r.watch_until is None or now > r.watch_until + r.rules.deadlines.watch_interval:
        raise DomainError("this request is not being watched")
    reason = f"recovery drifted within the watch window: {e.reason}"
    return Outcome(
        state=RequestState.FAILED,
        action="verification.drifted",
        actor=SYSTEM,
        updates={
            "outcome": f"failed to recover: {reason}",
            "verification": {**r.verification, **e.checks},
            "watch_until": None,
        },
        details={"reason": e.reason},
        effects=(ev.Escalate(reason=reason, page=ev.FAILURE_PAGES),),
    )
