"""Request state machine. Sources: the rollback and incident response standard Phase 5 (30-minute decision, automatic rollback),
the rollback runbook (approval matrix, emergency override, failed rollback stops; post-mortem 48 h),
the change management guide (written approval 24 h, post-emergency review 5 days)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import events as ev
from bot.domain.decision import DecisionInputs, RollbackAction, decide_rollback_or_fix
from bot.domain.errors import (
    ApprovalRefusedError,
    DomainError,
    ExecutionGuardError,
    IllegalTransitionError,
    OverrideRefusedError,
)
from bot.domain.people import SYSTEM
from bot.domain.policy import Role, RollbackType
from bot.domain.request import TERMINAL, RequestState, RollbackRequest, TargetRef, add_obligation
from bot.domain.severity import Severity
from bot.domain.transitions import accepted_states, apply
from tests.unit.domain.factories import ALICE, BOB, CAROL, DAVE, ERIN, T0, make_request, roles

S = RequestState
K = ev.ObligationKind
RECO = decide_rollback_or_fix(DecisionInputs(severity=Severity.P1))


def step(
    request: RollbackRequest, event: ev.Event, minutes: float = 1
) -> tuple[RollbackRequest, tuple[ev.Effect, ...]]:
    moved, effects = apply(request, event, request.updated_at + timedelta(minutes=minutes))
    audits = [e for e in effects if isinstance(e, ev.AuditEffect)]
    assert len(audits) == 1, "every accepted event yields exactly one audit effect"
    assert moved.version == request.version + 1
    return moved, effects


def kinds(effects: tuple[ev.Effect, ...]) -> list[str]:
    return [type(e).__name__ for e in effects]


def awaiting_approval(kind: RollbackType = RollbackType.DATABASE, **kw: object) -> RollbackRequest:
    request = make_request(kind, **kw)  # type: ignore[arg-type]
    request, _ = step(request, ev.PromptDecision(recommendation=RECO))
    request, _ = step(request, ev.ChooseRollback(by=ALICE))
    return request


def test_happy_path_database_rollback() -> None:
    request = make_request()
    request, effects = step(request, ev.PromptDecision(recommendation=RECO))
    assert request.state is S.AWAITING_DECISION
    assert request.decision_deadline == T0 + timedelta(minutes=31)
    assert kinds(effects) == [
        "AuditEffect",
        "ScheduleObligation",  # the P1 decision SLA
        "ScheduleObligation",  # customers told within 30 minutes
        "ScheduleDecisionTimeout",
    ]

    request, effects = step(request, ev.ChooseRollback(by=ALICE))
    assert request.state is S.AWAITING_APPROVAL
    assert request.open_roles == (Role.DBA, Role.ENGINEERING_LEAD)
    assert kinds(effects) == ["AuditEffect"]

    request, effects = step(request, ev.Approve(by=BOB, roles=roles(Role.DBA)))
    assert request.state is S.AWAITING_APPROVAL
    assert request.open_roles == (Role.ENGINEERING_LEAD,)
    audit = effects[0]
    assert isinstance(audit, ev.AuditEffect)
    assert (audit.action, audit.actor, audit.details) == ("approval.given", BOB, {"role": "dba"})

    request, effects = step(request, ev.Approve(by=CAROL, roles=roles(Role.ENGINEERING_LEAD)))
    assert request.state is S.APPROVED
    assert kinds(effects) == ["AuditEffect", "ExecuteRollback"]

    request, _ = step(request, ev.StartExecution())
    assert request.state is S.EXECUTING
    request, effects = step(request, ev.ExecutionSucceeded(to_revision="6"))
    assert request.state is S.VERIFYING
    assert request.to_revision == "6"
    post_mortem = request.obligation(K.POST_MORTEM)
    assert post_mortem is not None
    assert post_mortem.due == post_mortem.created_at + timedelta(hours=48)
    assert kinds(effects) == ["AuditEffect", "ScheduleObligation"]

    request, effects = step(request, ev.VerificationPassed(summary="error rate 0.1%"))
    # P1: the checks passed, and the request stays open until a person confirms recovery
    assert request.state is S.AWAITING_RECOVERY_CONFIRMATION
    assert kinds(effects) == ["AuditEffect", "ScheduleRecoveryWatch", "ScheduleObligation"]
    assert request.outcome == (
        "recovery checks passed (error rate 0.1%); waiting for a person to confirm recovery"
    )
    assert request.state.is_open
    request, effects = step(request, ev.ConfirmRecovery(by=BOB))
    assert request.state is S.COMPLETED
    assert request.outcome is not None
    assert request.outcome.startswith("recovered: confirmed by bob at ")
    assert not request.state.is_open


def test_on_call_last_version_rollback_is_approved_as_soon_as_chosen() -> None:
    request = make_request(
        RollbackType.DEPLOYMENT_LAST_VERSION, requester_roles=roles(Role.ON_CALL)
    )
    assert request.auto_approved
    request, effects = step(request, ev.ChooseRollback(by=ALICE))
    assert request.state is S.APPROVED
    assert "ExecuteRollback" in kinds(effects)


def test_forward_fix_ends_the_request() -> None:
    request, _ = step(
        make_request(), ev.ChooseForwardFix(by=BOB, roles=roles(Role.ENGINEERING_LEAD))
    )
    assert request.state is S.FORWARD_FIX_CHOSEN
    assert request.decision is RollbackAction.FORWARD_FIX
    assert request.state in TERMINAL


def test_decision_timeout_rolls_back_as_the_system() -> None:
    request, _ = step(
        make_request(RollbackType.DEPLOYMENT_LAST_VERSION, requester_roles=roles(Role.ON_CALL)),
        ev.PromptDecision(recommendation=RECO),
    )
    with pytest.raises(DomainError, match="not due until"):
        apply(request, ev.DecisionTimedOut(), request.updated_at + timedelta(minutes=29))
    request, effects = apply(
        request, ev.DecisionTimedOut(), request.updated_at + timedelta(minutes=30)
    )
    assert request.state is S.APPROVED
    assert request.decided_by == SYSTEM
    audit = effects[0]
    assert isinstance(audit, ev.AuditEffect)
    assert audit.actor == SYSTEM
    assert audit.action == "decision.timeout_rollback"
    assert kinds(effects) == ["AuditEffect", "AnnounceAutomaticRollback", "ExecuteRollback"]


def test_decision_timeout_can_be_turned_off_per_service() -> None:
    request, effects = step(
        make_request(auto_rollback=False), ev.PromptDecision(recommendation=RECO)
    )
    assert request.decision_deadline is None
    assert "ScheduleDecisionTimeout" not in kinds(effects)
    with pytest.raises(DomainError, match="turned off"):
        apply(request, ev.DecisionTimedOut(), request.updated_at + timedelta(days=1))


def test_decision_timeout_still_needs_approvals_for_a_governed_type() -> None:
    request, _ = step(make_request(), ev.PromptDecision(recommendation=RECO))
    request, effects = apply(
        request, ev.DecisionTimedOut(), request.updated_at + timedelta(minutes=31)
    )
    assert request.state is S.AWAITING_APPROVAL
    assert kinds(effects) == ["AuditEffect", "AnnounceAutomaticRollback"]


def test_illegal_event_names_the_states_that_accept_it() -> None:
    request = make_request()
    with pytest.raises(IllegalTransitionError) as err:
        apply(request, ev.Approve(by=BOB, roles=roles(Role.DBA)), T0)
    assert err.value.accepted_in == ("awaiting_approval",)
    assert str(err.value) == (
        "this request has moved on: it is proposed, and Approve is accepted only when awaiting_approval"
    )
    assert accepted_states(ev.StartExecution) == frozenset({S.APPROVED})


def test_refused_approval_changes_nothing() -> None:
    request = awaiting_approval()
    with pytest.raises(ApprovalRefusedError, match="you requested this rollback"):
        apply(request, ev.Approve(by=ALICE, roles=roles(Role.DBA)), T0)
    request, _ = step(request, ev.Approve(by=BOB, roles=roles(Role.DBA, Role.ENGINEERING_LEAD)))
    with pytest.raises(ApprovalRefusedError, match="already approved as dba"):
        apply(request, ev.Approve(by=BOB, roles=roles(Role.DBA, Role.ENGINEERING_LEAD)), T0)
    assert request.open_roles == (Role.ENGINEERING_LEAD,)


def test_any_required_roles_denial_ends_it() -> None:
    request = awaiting_approval()
    with pytest.raises(DomainError, match="needs a reason"):
        apply(request, ev.Deny(by=BOB, roles=roles(Role.DBA), reason=" "), T0)
    request, effects = step(
        request, ev.Deny(by=BOB, roles=roles(Role.DBA), reason="backup is stale")
    )
    assert request.state is S.DENIED
    assert request.outcome == "denied by bob: backup is stale"
    assert effects[0] == ev.AuditEffect(
        action="approval.denied",
        actor=BOB,
        from_state="awaiting_approval",
        to_state="denied",
        details={"role": "dba", "reason": "backup is stale"},
    )


def test_approvals_lapse_when_the_target_moves() -> None:
    request = awaiting_approval(baseline="7")
    request, _ = step(request, ev.Approve(by=BOB, roles=roles(Role.DBA)))
    request, _ = step(request, ev.Approve(by=CAROL, roles=roles(Role.ENGINEERING_LEAD)))
    assert request.state is S.APPROVED
    with pytest.raises(DomainError, match="has not moved"):
        apply(request, ev.TargetMoved(live_revision="7"), T0)
    request, effects = step(request, ev.TargetMoved(live_revision="8"))
    assert request.state is S.AWAITING_APPROVAL
    assert request.approvals == ()
    assert request.baseline_revision == "8"
    audit = effects[0]
    assert isinstance(audit, ev.AuditEffect)
    assert audit.details == {"was": "7", "now": "8", "lapsed": "2"}


def test_a_moved_target_takes_the_auto_approval_away() -> None:
    """An auto-approved plan whose target moved is no longer the plan anyone approved: it waits
    for the matrix's own role, and nothing executes by itself."""
    request = make_request(
        RollbackType.DEPLOYMENT_LAST_VERSION, requester_roles=roles(Role.ON_CALL), baseline=None
    )
    request, _ = step(request, ev.ChooseRollback(by=ALICE))
    request, effects = step(request, ev.TargetMoved(live_revision="9"))
    assert request.state is S.AWAITING_APPROVAL
    assert not request.auto_approved
    assert request.needed_roles == (Role.ON_CALL,)
    assert kinds(effects) == ["AuditEffect"]
    assert effects[0].details["was"] == "unknown"  # type: ignore[union-attr]
    with pytest.raises(ApprovalRefusedError):  # not by the requester herself
        step(request, ev.Approve(by=ALICE, roles=roles(Role.ON_CALL)))
    request, effects = step(request, ev.Approve(by=CAROL, roles=roles(Role.ON_CALL)))
    assert request.state is S.APPROVED
    assert "ExecuteRollback" in kinds(effects)


def test_a_plan_that_changed_at_execution_runs_nothing_and_asks_again() -> None:
    request = make_request(
        RollbackType.DEPLOYMENT_LAST_VERSION, requester_roles=roles(Role.ON_CALL)
    )
    request, _ = step(request, ev.ChooseRollback(by=ALICE))
    assert request.state is S.APPROVED
    changed = ev.PlanChanged(
        live_revision="3", to_revision="2", preflight="revision 3 → 2", reason="the target moved"
    )
    request, effects = step(request, changed)
    assert request.state is S.AWAITING_APPROVAL
    assert (request.baseline_revision, request.to_revision) == ("3", "2")
    assert request.plan_changed == "the target moved"
    assert kinds(effects) == ["AuditEffect", "Escalate"]
    assert "ExecuteRollback" not in kinds(effects)
    with pytest.raises(IllegalTransitionError):  # it cannot start: it is not approved
        step(request, ev.StartExecution())
    unreadable = ev.PlanChanged(live_revision=None, to_revision=None, preflight=None, reason="x")
    request, _ = step(request, ev.Approve(by=CAROL, roles=roles(Role.ON_CALL)))
    request, _ = step(request, unreadable)
    assert (request.baseline_revision, request.to_revision) == ("3", "2")  # kept when unknown


def test_emergency_override_needs_only_the_extra_role_then_creates_obligations() -> None:
    request = awaiting_approval()
    request, _ = step(request, ev.Approve(by=DAVE, roles=roles(Role.DBA)))
    request, effects = step(
        request,
        ev.DeclareEmergencyOverride(
            by=BOB, roles=roles(Role.INCIDENT_COMMANDER), reason="orders lost"
        ),
    )
    assert request.state is S.AWAITING_APPROVAL
    assert request.open_roles == (Role.CTO,)
    assert [o.kind for o in request.obligations] == [
        K.DECISION_SLA,
        K.CUSTOMER_NOTIFICATION,
        K.RETRO_APPROVAL,
        K.EMERGENCY_WRITTEN_APPROVAL,
        K.POST_EMERGENCY_REVIEW,
    ]
    at = request.updated_at
    dues = {o.kind: o.due - at for o in request.obligations if o.created_at == at}
    assert dues == {
        K.RETRO_APPROVAL: timedelta(hours=4),
        K.EMERGENCY_WRITTEN_APPROVAL: timedelta(hours=24),
        K.POST_EMERGENCY_REVIEW: timedelta(days=5),
    }
    assert kinds(effects) == [
        "AuditEffect",
        "ScheduleObligation",
        "ScheduleObligation",
        "ScheduleObligation",
    ]
    with pytest.raises(ApprovalRefusedError, match="another role"):
        apply(request, ev.Approve(by=BOB, roles=roles(Role.CTO)), T0)
    request, effects = step(request, ev.Approve(by=ERIN, roles=roles(Role.CTO)))
    assert request.state is S.APPROVED
    assert "ExecuteRollback" in kinds(effects)


def test_override_for_a_deployment_executes_at_once() -> None:
    request = make_request(RollbackType.DEPLOYMENT_OLDER_VERSION)
    request, effects = step(
        request,
        ev.DeclareEmergencyOverride(by=BOB, roles=roles(Role.INCIDENT_COMMANDER), reason="down"),
    )
    assert request.state is S.APPROVED
    assert request.decision is RollbackAction.ROLLBACK
    assert request.decided_by == BOB
    assert kinds(effects)[-1] == "ExecuteRollback"


def test_override_refused_below_top_severity_changes_nothing() -> None:
    request = awaiting_approval(severity=Severity.P2)
    with pytest.raises(OverrideRefusedError, match="only for P1"):
        apply(
            request,
            ev.DeclareEmergencyOverride(by=BOB, roles=roles(Role.INCIDENT_COMMANDER), reason="x"),
            T0,
        )


def test_retroactive_approval_meets_the_obligation_when_every_matrix_role_signed() -> None:
    request = make_request()
    with pytest.raises(DomainError, match="no retroactive approval outstanding"):
        apply(request, ev.RetroApprove(by=DAVE, roles=roles(Role.DBA)), T0)
    request, _ = step(
        request,
        ev.DeclareEmergencyOverride(by=BOB, roles=roles(Role.INCIDENT_COMMANDER), reason="down"),
    )
    request, _ = step(request, ev.Approve(by=ERIN, roles=roles(Role.CTO)))
    request, _ = step(request, ev.RetroApprove(by=DAVE, roles=roles(Role.DBA)))
    retro = request.obligation(K.RETRO_APPROVAL)
    assert retro is not None
    assert retro.met_at is None
    request, _ = step(request, ev.RetroApprove(by=CAROL, roles=roles(Role.ENGINEERING_LEAD)))
    retro = request.obligation(K.RETRO_APPROVAL)
    assert retro is not None
    assert retro.met_by == CAROL
    assert retro.met_at == request.updated_at
    with pytest.raises(DomainError, match="no retroactive approval outstanding"):
        apply(request, ev.RetroApprove(by=ERIN, roles=roles(Role.DBA)), T0)


def test_obligations_are_met_with_evidence_once() -> None:
    request = awaiting_approval(RollbackType.DEPLOYMENT_OLDER_VERSION)
    with pytest.raises(DomainError, match="no post mortem outstanding"):
        apply(
            request, ev.MeetObligation(kind=K.POST_MORTEM, by=BOB, evidence="https://wiki/pm"), T0
        )
    request, _ = step(request, ev.Approve(by=BOB, roles=roles(Role.ENGINEERING_LEAD)))
    request, _ = step(request, ev.StartExecution())
    request, _ = step(request, ev.ExecutionSucceeded(to_revision="5"))
    with pytest.raises(DomainError, match="needs evidence"):
        apply(request, ev.MeetObligation(kind=K.POST_MORTEM, by=BOB, evidence=" "), T0)
    with pytest.raises(DomainError, match="met by approvals"):
        apply(request, ev.MeetObligation(kind=K.RETRO_APPROVAL, by=BOB, evidence="x"), T0)
    with pytest.raises(DomainError, match="the post-mortem is for incident commander or "):
        apply(request, ev.MeetObligation(kind=K.POST_MORTEM, by=BOB, evidence="x"), T0)
    lead = roles(Role.ENGINEERING_LEAD)
    request, _effects = step(
        request,
        ev.MeetObligation(kind=K.POST_MORTEM, by=BOB, evidence=" https://wiki/pm ", roles=lead),
    )
    post_mortem = request.obligation(K.POST_MORTEM)
    assert post_mortem is not None
    assert post_mortem.evidence == "https://wiki/pm"
    assert request.state is S.VERIFYING  # meeting an obligation does not move the request
    with pytest.raises(DomainError, match="no post mortem outstanding"):
        apply(request, ev.MeetObligation(kind=K.POST_MORTEM, by=BOB, evidence="again"), T0)


def test_failed_rollback_stops_escalates_and_preserves_state() -> None:
    request = make_request(
        RollbackType.DEPLOYMENT_LAST_VERSION, requester_roles=roles(Role.ON_CALL)
    )
    request, _ = step(request, ev.ChooseRollback(by=ALICE))
    request, _ = step(request, ev.StartExecution())
    request, effects = step(request, ev.ExecutionFailed(reason="ProgressDeadlineExceeded"))
    assert request.state is S.FAILED
    assert kinds(effects) == ["AuditEffect", "ScheduleObligation", "Escalate", "PreserveState"]
    # no automatic second try: nothing moves a failed request back to executing
    with pytest.raises(IllegalTransitionError):
        apply(request, ev.StartExecution(), T0)


@pytest.mark.parametrize(
    "outcome", [ev.ExecutionSucceeded(to_revision="4"), ev.ExecutionFailed(reason="declined")]
)
def test_a_platform_review_shows_while_executing_and_clears_with_the_outcome(
    outcome: ev.Event,
) -> None:
    request = make_request(
        RollbackType.DEPLOYMENT_LAST_VERSION, requester_roles=roles(Role.ON_CALL)
    )
    request, _ = step(request, ev.ChooseRollback(by=ALICE))
    with pytest.raises(IllegalTransitionError):  # only a rollback under way waits on one
        apply(request, ev.PlatformReviewOpened(what="x", link="https://x"), T0)
    request, _ = step(request, ev.StartExecution())
    opened = ev.PlatformReviewOpened(
        what="LaunchDarkly approval request", link="https://ld/approvals/1", why="required"
    )
    request, effects = step(request, opened)
    assert request.state is S.EXECUTING
    assert request.waiting_on == "LaunchDarkly approval request https://ld/approvals/1"
    [audit] = effects
    assert isinstance(audit, ev.AuditEffect)
    assert (audit.action, audit.details["link"]) == (
        "execution.awaiting_review",
        "https://ld/approvals/1",
    )
    request, _ = step(request, outcome)
    assert request.waiting_on is None


def test_failed_verification_marks_failed_to_recover_and_escalates() -> None:
    request = make_request(
        RollbackType.DEPLOYMENT_LAST_VERSION, requester_roles=roles(Role.ON_CALL)
    )
    for event in (
        ev.ChooseRollback(by=ALICE),
        ev.StartExecution(),
        ev.ExecutionSucceeded(to_revision="3"),
    ):
        request, _ = step(request, event)
    request, effects = step(request, ev.VerificationFailed(reason="error rate 12%"))
    assert request.state is S.FAILED
    assert request.outcome == "failed to recover: error rate 12%"
    assert kinds(effects) == ["AuditEffect", "Escalate"]


def test_execution_guard_refuses_a_corrupt_approved_request() -> None:
    forged = make_request().model_copy(update={"state": S.APPROVED})
    with pytest.raises(ExecutionGuardError, match="still needs dba \\+ engineering lead"):
        apply(forged, ev.StartExecution(), T0)


def test_cancel_by_requester_or_incident_commander_only() -> None:
    request = awaiting_approval()
    with pytest.raises(
        DomainError,
        match="cancelling the request is for incident commander or the requester; you hold none",
    ):
        apply(request, ev.Cancel(by=BOB, roles=roles(Role.DBA), reason="x"), T0)
    cancelled, _ = step(request, ev.Cancel(by=ALICE, roles=frozenset(), reason="false alarm"))
    assert cancelled.state is S.CANCELLED
    by_ic, _ = step(request, ev.Cancel(by=BOB, roles=roles(Role.INCIDENT_COMMANDER), reason="dup"))
    assert by_ic.outcome == "cancelled by bob: dup"


def test_time_on_a_request_never_runs_backwards() -> None:
    request, _ = step(make_request(), ev.PromptDecision(recommendation=RECO), minutes=10)
    earlier = request.updated_at - timedelta(minutes=5)
    moved, _ = apply(request, ev.ChooseRollback(by=ALICE), earlier)
    assert moved.updated_at == request.updated_at


def test_target_label() -> None:
    assert (
        TargetRef(kind="deployment", name="api", namespace="prod").label == "deployment/api -n prod"
    )
    assert TargetRef(kind="flag", name="checkout").label == "flag/checkout"
    assert ALICE.label == "alice"
    assert SYSTEM.label == "rollbot (system)"
    assert RequestState.PROPOSED.is_open


def test_a_second_override_is_refused_and_the_first_declarer_stays_on_record() -> None:
    request = awaiting_approval()
    request, _ = step(
        request,
        ev.DeclareEmergencyOverride(by=BOB, roles=roles(Role.INCIDENT_COMMANDER), reason="down"),
    )
    with pytest.raises(OverrideRefusedError, match="already declared by bob"):
        apply(
            request,
            ev.DeclareEmergencyOverride(by=DAVE, roles=roles(Role.INCIDENT_COMMANDER), reason="x"),
            T0,
        )
    assert request.override is not None
    assert request.override.by == BOB


def test_an_existing_obligation_is_never_rescheduled() -> None:
    request = make_request()
    first, scheduled = add_obligation(request, K.POST_MORTEM, T0)
    assert scheduled is not None
    again, rescheduled = add_obligation(
        request.model_copy(update={"obligations": first}), K.POST_MORTEM, T0 + timedelta(hours=5)
    )
    assert rescheduled is None
    assert again == first


def test_decision_belongs_to_requester_commander_lead_or_on_call() -> None:
    # the SOC 2 rollback and recovery procedures "Assess rollback impact ... go/no-go decision", role: Engineering Lead
    request = make_request()
    rule = "decision is for incident commander or engineering lead or on call or the requester"
    with pytest.raises(ApprovalRefusedError, match=rule):
        apply(request, ev.ChooseForwardFix(by=BOB, roles=roles(Role.DBA)), T0)
    with pytest.raises(ApprovalRefusedError, match=rule):
        apply(request, ev.ChooseRollback(by=BOB, roles=frozenset()), T0)
    for who, held in [
        (ALICE, frozenset()),
        (BOB, roles(Role.ENGINEERING_LEAD)),
        (CAROL, roles(Role.INCIDENT_COMMANDER)),
        (DAVE, roles(Role.ON_CALL)),
    ]:
        moved, _ = step(request, ev.ChooseRollback(by=who, roles=held))
        assert moved.decided_by == who
