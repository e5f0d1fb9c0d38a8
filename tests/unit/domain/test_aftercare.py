"""After the decision and the rollback: severity clocks (the rollback and incident response standard), the 30-minute watch
(the change management guide), user validation (the rollback runbook's checklist)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import events as ev
from bot.domain.decision import DecisionInputs, decide_rollback_or_fix
from bot.domain.errors import DomainError, IllegalTransitionError
from bot.domain.people import SYSTEM
from bot.domain.policy import Role, RollbackType
from bot.domain.request import RequestState, RollbackRequest
from bot.domain.severity import Severity
from bot.domain.transitions import apply
from tests.unit.domain.factories import ALICE, BOB, DAVE, T0, make_request, roles

S = RequestState
K = ev.ObligationKind


def prompted(severity: Severity = Severity.P1, **kw: object) -> RollbackRequest:
    request = make_request(severity=severity, **kw)  # type: ignore[arg-type]
    reco = decide_rollback_or_fix(DecisionInputs(severity=severity))
    moved, _ = apply(request, ev.PromptDecision(recommendation=reco), T0)
    return moved


def completed(severity: Severity = Severity.P2) -> RollbackRequest:
    """Rolled back and verified (P2: it closes on the checks alone)."""
    request = prompted(severity, requester_roles=roles(Role.ON_CALL))
    request = request.model_copy(update={"rollback_type": RollbackType.DEPLOYMENT_LAST_VERSION})
    for event in (
        ev.ChooseRollback(by=ALICE),
        ev.Approve(by=BOB, roles=roles(Role.DBA)),
        ev.Approve(by=DAVE, roles=roles(Role.ENGINEERING_LEAD)),
        ev.StartExecution(),
        ev.ExecutionSucceeded(to_revision="6"),
        ev.VerificationPassed(summary="ok", checks={"health_check": "passed 1/1"}),
    ):
        request, _ = apply(request, event, T0 + timedelta(minutes=2))
    if severity is not Severity.P1:
        assert request.state is S.COMPLETED
    return request


@pytest.mark.parametrize(
    ("severity", "sla", "customers"),
    [
        (Severity.P1, timedelta(hours=1), timedelta(minutes=30)),
        (Severity.P2, timedelta(hours=4), timedelta(hours=2)),
        (Severity.P3, timedelta(hours=8), timedelta(hours=4)),
        (Severity.P4, timedelta(hours=24), None),
    ],
)
def test_declaring_the_incident_starts_its_severity_clocks(
    severity: Severity, sla: timedelta, customers: timedelta | None
) -> None:
    request = prompted(severity)
    decision = request.obligation(K.DECISION_SLA)
    assert decision is not None
    assert decision.due == T0 + sla
    notify = request.obligation(K.CUSTOMER_NOTIFICATION)
    assert request.obligation_due("decision_sla") == T0 + sla
    if customers is None:
        assert notify is None  # a P4 is not customer-visible
        assert request.obligation_due("customer_notification") is None
    else:
        assert notify is not None
        assert notify.due == T0 + customers


def test_deciding_meets_the_decision_sla_and_names_who_decided() -> None:
    request, _ = apply(prompted(), ev.ChooseRollback(by=ALICE), T0 + timedelta(minutes=5))
    met = request.obligation(K.DECISION_SLA)
    assert met is not None
    assert (met.met_at, met.met_by, met.evidence) == (
        T0 + timedelta(minutes=5),
        ALICE,
        "decided: rollback",
    )
    # the customer clock keeps running: deciding is not telling customers
    still = request.obligation(K.CUSTOMER_NOTIFICATION)
    assert still is not None
    assert still.met_at is None


def test_cancelling_meets_the_decision_sla_as_closed() -> None:
    cancel = ev.Cancel(by=ALICE, roles=frozenset(), reason="false alarm")
    request, _ = apply(prompted(), cancel, T0 + timedelta(minutes=5))
    met = request.obligation(K.DECISION_SLA)
    assert met is not None
    assert (met.met_by, met.evidence) == (SYSTEM, "closed: cancelled")


def test_the_decision_sla_cannot_be_met_by_saying_so() -> None:
    with pytest.raises(DomainError, match="deciding on the card"):
        apply(prompted(), ev.MeetObligation(kind=K.DECISION_SLA, by=ALICE, evidence="x"), T0)


def test_customers_notified_is_met_once_with_who_and_when() -> None:
    told = ev.MeetObligation(kind=K.CUSTOMER_NOTIFICATION, by=BOB, evidence="status page")
    with pytest.raises(DomainError, match="for incident commander or customer success; you hold"):
        apply(prompted(), told, T0 + timedelta(minutes=12))  # a guest, whatever the channel
    told = told.model_copy(update={"roles": roles(Role.CUSTOMER_SUCCESS)})
    request, effects = apply(prompted(), told, T0 + timedelta(minutes=12))
    met = request.obligation(K.CUSTOMER_NOTIFICATION)
    assert met is not None
    assert (met.met_by, met.met_at, met.evidence) == (
        BOB,
        T0 + timedelta(minutes=12),
        "status page",
    )
    audit = effects[0]
    assert isinstance(audit, ev.AuditEffect)
    assert audit.details == {
        "kind": "customer_notification",
        "evidence": "status page",
        "role": "customer_success",
    }
    with pytest.raises(DomainError, match="no customer notification outstanding"):
        apply(request, told, T0 + timedelta(minutes=13))


def test_verified_recovery_is_watched_for_the_policy_window() -> None:
    request = completed()
    assert request.watch_until == T0 + timedelta(minutes=32)


def test_a_drift_inside_the_window_fails_the_rollback_and_escalates() -> None:
    request = completed()
    drift = ev.RecoveryDrifted(reason="error rate 9%", checks={"metrics": "failed 1/2"})
    moved, effects = apply(request, drift, T0 + timedelta(minutes=20))
    assert moved.state is S.FAILED
    assert (
        moved.outcome
        == "failed to recover: recovery drifted within the watch window: error rate 9%"
    )
    assert moved.verification == {"health_check": "passed 1/1", "metrics": "failed 1/2"}
    assert moved.watch_until is None
    assert [type(e).__name__ for e in effects] == ["AuditEffect", "Escalate"]
    audit = effects[0]
    assert isinstance(audit, ev.AuditEffect)
    assert (audit.action, audit.actor) == ("verification.drifted", SYSTEM)


def test_a_drift_after_the_window_is_refused() -> None:
    request = completed()  # watched until T0+32
    late_beat, _ = apply(request, ev.RecoveryDrifted(reason="late"), T0 + timedelta(minutes=37))
    assert late_beat.state is S.FAILED  # the last beat, run one interval late, still counts
    with pytest.raises(DomainError, match="not being watched"):
        apply(request, ev.RecoveryDrifted(reason="late"), T0 + timedelta(minutes=40))
    unwatched = request.model_copy(update={"watch_until": None})
    with pytest.raises(DomainError, match="not being watched"):
        apply(unwatched, ev.RecoveryDrifted(reason="late"), T0 + timedelta(minutes=3))


def test_recovery_is_confirmed_once_by_a_person() -> None:
    request = completed()
    moved, effects = apply(request, ev.ConfirmRecovery(by=BOB), T0 + timedelta(minutes=9))
    assert moved.state is S.COMPLETED
    assert moved.verification["user_validation"] == "confirmed by bob at 09:09 UTC"
    assert moved.verification["health_check"] == "passed 1/1"
    audit = effects[0]
    assert isinstance(audit, ev.AuditEffect)
    assert (audit.action, audit.actor) == ("recovery.confirmed", BOB)
    with pytest.raises(DomainError, match="already confirmed: confirmed by bob"):
        apply(moved, ev.ConfirmRecovery(by=ALICE), T0 + timedelta(minutes=10))


def test_recovery_cannot_be_confirmed_before_the_rollback_completed() -> None:
    with pytest.raises(IllegalTransitionError):
        apply(prompted(), ev.ConfirmRecovery(by=BOB), T0)


@pytest.mark.parametrize("checks_ran", [True, False], ids=["checks passed", "no checks"])
def test_a_top_severity_rollback_stays_open_until_a_person_confirms_recovery(
    checks_ran: bool,
) -> None:
    """The runbook: at P1, recovery needs at least one real user's confirmation. Green checks
    (or none) leave the request open, with a confirmation owed and chased."""
    request = completed(Severity.P1)
    if not checks_ran:
        request = prompted(Severity.P1, requester_roles=roles(Role.ON_CALL))
        request = request.model_copy(update={"rollback_type": RollbackType.DEPLOYMENT_LAST_VERSION})
        for event in (
            ev.ChooseRollback(by=ALICE),
            ev.Approve(by=BOB, roles=roles(Role.DBA)),
            ev.Approve(by=DAVE, roles=roles(Role.ENGINEERING_LEAD)),
            ev.StartExecution(),
            ev.ExecutionSucceeded(to_revision="6"),
            ev.VerificationSkipped(summary="no checks configured"),
        ):
            request, _ = apply(request, event, T0 + timedelta(minutes=2))
    assert request.state is S.AWAITING_RECOVERY_CONFIRMATION
    assert request.state.is_open
    assert not request.state.holds_target  # the next request for the target may open
    owed = request.obligation(K.RECOVERY_CONFIRMATION)
    assert owed is not None
    assert owed.met_at is None
    moved, _ = apply(request, ev.ConfirmRecovery(by=BOB), T0 + timedelta(minutes=9))
    assert moved.state is S.COMPLETED
    assert not moved.state.is_open
    met = moved.obligation(K.RECOVERY_CONFIRMATION)
    assert met is not None
    assert met.met_by == BOB
    expected = "recovered: confirmed by bob at 09:09 UTC"
    assert moved.outcome == expected + (
        "; the recovery checks passed" if checks_ran else " (no automatic checks are configured)"
    )


def test_a_drift_while_waiting_for_confirmation_fails_the_rollback() -> None:
    request = completed(Severity.P1)
    drift = ev.RecoveryDrifted(reason="error rate 9%")
    moved, _ = apply(request, drift, T0 + timedelta(minutes=20))
    assert moved.state is S.FAILED
