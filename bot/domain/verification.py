"""The outcome of verification after a rollback: recovered, not recovered, or nothing checked; and
at the top severity, a person's confirmation still to come before the request closes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain import events as ev
from bot.domain.people import SYSTEM
from bot.domain.request import Outcome, RequestState, RollbackRequest, add_obligation
from bot.domain.severity import Severity

S = RequestState


def _needs_a_person(
    r: RollbackRequest, now: datetime
) -> tuple[dict[str, Any], tuple[ev.Effect, ...]]:
    """A person is asked to confirm recovery: the reminder chases it until someone does."""
    obligations, scheduled = add_obligation(r, ev.ObligationKind.RECOVERY_CONFIRMATION, now)
    return {"obligations": obligations}, (scheduled,) if scheduled else ()


def verified(r: RollbackRequest, e: ev.VerificationPassed, now: datetime) -> Outcome:
    deadlines = r.rules.deadlines
    updates: dict[str, Any] = {
        "outcome": f"recovered: {e.summary}",
        "verification": e.checks,
        "watch_until": now + deadlines.watch_window,
    }
    effects: tuple[ev.Effect, ...] = (ev.ScheduleRecoveryWatch(due=now + deadlines.watch_interval),)
    state = S.COMPLETED
    if r.assessment.severity is Severity.P1:  # checks are not a user's word: stays open
        state = S.AWAITING_RECOVERY_CONFIRMATION
        asked, scheduled = _needs_a_person(r, now)
        updates |= asked
        updates["outcome"] = (
            f"recovery checks passed ({e.summary}); waiting for a person to confirm recovery"
        )
        effects = (*effects, *scheduled)
    return Outcome(
        state=state,
        action="verification.passed",
        actor=SYSTEM,
        updates=updates,
        details={"summary": e.summary},
        effects=effects,
    )


def unverified(r: RollbackRequest, e: ev.VerificationSkipped, now: datetime) -> Outcome:
    """Rolled back, nothing checked: never "recovered"; a person is asked to confirm it. At the
    top severity the request stays open until someone does."""
    asked, scheduled = _needs_a_person(r, now)
    top = r.assessment.severity is Severity.P1
    return Outcome(
        state=S.AWAITING_RECOVERY_CONFIRMATION if top else S.RECOVERY_UNVERIFIED,
        action="verification.skipped",
        actor=SYSTEM,
        updates={
            "outcome": f"rolled back; recovery not verified: {e.summary}",
            "verification": e.checks,
            **asked,
        },
        details={"summary": e.summary},
        effects=scheduled,
    )


def not_recovered(r: RollbackRequest, e: ev.VerificationFailed, now: datetime) -> Outcome:
    return Outcome(
        state=S.FAILED,
        action="verification.failed",
        actor=SYSTEM,
        updates={"outcome": f"failed to recover: {e.reason}", "verification": e.checks},
        details={"reason": e.reason},
        effects=(ev.Escalate(reason=f"failed to recover: {e.reason}", page=ev.FAILURE_PAGES),),
    )
