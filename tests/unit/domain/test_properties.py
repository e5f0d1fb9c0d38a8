"""Property tests over random event sequences (the rollback runbook approval matrix and override; the rollback auditing practice
separation of duties; the change management guide deadlines)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import events as ev
from bot.domain.approvals import matrix_roles
from bot.domain.decision import DecisionInputs, decide_rollback_or_fix
from bot.domain.errors import DomainError
from bot.domain.people import Person
from bot.domain.policy import RUNBOOK_ROLES, Role, RollbackType
from bot.domain.request import RequestState, RollbackRequest
from bot.domain.severity import TOP_SEVERITY, Severity
from bot.domain.transitions import apply
from tests.unit.domain.factories import ALICE, BOB, CAROL, DAVE, ERIN, make_request

PEOPLE = [ALICE, BOB, CAROL, DAVE, ERIN]
people = st.sampled_from(PEOPLE)
role_sets = st.frozensets(st.sampled_from(sorted(RUNBOOK_ROLES)), max_size=3)
reasons = st.sampled_from(["", "down", "backup stale"])


def _events() -> st.SearchStrategy[ev.Event]:
    reco = decide_rollback_or_fix(DecisionInputs(severity=Severity.P2))
    return st.one_of(
        st.just(ev.PromptDecision(recommendation=reco)),
        st.builds(ev.ChooseRollback, by=people),
        st.builds(ev.ChooseForwardFix, by=people),
        st.just(ev.DecisionTimedOut()),
        st.builds(ev.Approve, by=people, roles=role_sets),
        st.builds(ev.Deny, by=people, roles=role_sets, reason=reasons),
        st.builds(ev.DeclareEmergencyOverride, by=people, roles=role_sets, reason=reasons),
        st.builds(ev.TargetMoved, live_revision=st.sampled_from(["7", "8", "9"])),
        st.just(ev.StartExecution()),
        st.builds(ev.ExecutionSucceeded, to_revision=st.just("6")),
        st.builds(ev.ExecutionFailed, reason=st.just("deadline exceeded")),
        st.just(ev.VerificationPassed()),
        st.builds(ev.VerificationFailed, reason=st.just("errors")),
        st.builds(ev.Cancel, by=people, roles=role_sets, reason=st.just("dup")),
        st.builds(ev.RetroApprove, by=people, roles=role_sets),
        st.builds(
            ev.MeetObligation,
            kind=st.sampled_from(list(ev.ObligationKind)),
            by=people,
            evidence=st.sampled_from(["", "https://wiki/pm"]),
        ),
    )


scenario = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(list(RollbackType)),
        "severity": st.sampled_from(list(Severity)),
        "requester_roles": role_sets,
        "auto_rollback": st.booleans(),
        # minutes between events; negative values are a replica whose clock runs behind
        "steps": st.lists(
            st.tuples(_events(), st.integers(min_value=-30, max_value=600)), max_size=40
        ),
    }
)


def _deadlines(request: RollbackRequest) -> dict[str, datetime]:
    found = {o.kind.value: o.due for o in request.obligations}
    if request.decision_deadline is not None:
        found["decision"] = request.decision_deadline
    return found


def _check_separation_of_duties(request: RollbackRequest) -> None:
    for approvals in (request.approvals, request.retro_approvals):
        ids = [a.by.id for a in approvals]
        assert request.requester.id not in ids, "no one approves their own request"
        assert len(ids) == len(set(ids)), "no person counts for two roles"
        assert len({a.role for a in approvals}) == len(approvals)
        if request.override is not None:
            assert request.override.by.id not in ids, "the override declarer fills no second role"


def _check_execution_gate(before: RollbackRequest, after: RollbackRequest, event: ev.Event) -> None:
    if after.state is RequestState.EXECUTING and before.state is not RequestState.EXECUTING:
        filled = {a.role for a in after.approvals}
        if after.override is None:
            if not after.auto_approved:
                assert set(matrix_roles(after.rules.row)) <= filled
        else:
            assert after.assessment.severity is TOP_SEVERITY
            assert set(after.rules.row.emergency_override.extra_roles) <= filled


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario)
def test_random_event_sequences_keep_every_invariant(case: dict[str, object]) -> None:
    request = make_request(
        case["kind"],  # type: ignore[arg-type]
        severity=case["severity"],  # type: ignore[arg-type]
        requester_roles=case["requester_roles"],  # type: ignore[arg-type]
        auto_rollback=case["auto_rollback"],  # type: ignore[arg-type]
    )
    now = request.created_at
    overrides_by: dict[str, frozenset[Role]] = {}
    for event, minutes in case["steps"]:  # type: ignore[attr-defined]
        now = now + timedelta(minutes=minutes)
        try:
            moved, effects = apply(request, event, now)
        except DomainError:
            continue  # a refusal changes nothing: `request` stays what it was
        audits = [e for e in effects if isinstance(e, ev.AuditEffect)]
        assert len(audits) == 1, "every accepted event yields exactly one audit effect"
        assert moved.version == request.version + 1
        assert moved.updated_at >= request.updated_at
        if isinstance(event, ev.DeclareEmergencyOverride):
            overrides_by[event.by.id] = event.roles
        _check_separation_of_duties(moved)
        _check_execution_gate(request, moved, event)
        if moved.override is not None:
            assert Role.INCIDENT_COMMANDER in overrides_by[moved.override.by.id]
        old, new = _deadlines(request), _deadlines(moved)
        for name, due in old.items():
            assert new[name] >= due, f"deadline {name} moved backwards"
        for ob in moved.obligations:
            assert ob.due > ob.created_at
        request = moved


@given(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=10), role_sets)
def test_requester_is_refused_whatever_roles_they_hold(
    approvers: list[Person], held: frozenset[Role]
) -> None:
    reco = decide_rollback_or_fix(DecisionInputs(severity=Severity.P1))
    request, _ = apply(
        make_request(), ev.PromptDecision(recommendation=reco), make_request().created_at
    )
    request, _ = apply(request, ev.ChooseRollback(by=ALICE), request.updated_at)
    for person in approvers:
        try:
            request, _ = apply(
                request, ev.Approve(by=person, roles=held | {Role.DBA}), request.updated_at
            )
        except DomainError:
            continue
    assert ALICE.id not in {a.by.id for a in request.approvals}


def _plan_events() -> st.SearchStrategy[ev.Event]:
    """The events that move a request around its execution, the plan changing among them."""
    reco = decide_rollback_or_fix(DecisionInputs(severity=Severity.P2))
    return st.one_of(
        st.just(ev.PromptDecision(recommendation=reco)),
        st.builds(ev.ChooseRollback, by=people),
        st.just(ev.DecisionTimedOut()),
        st.builds(ev.Approve, by=people, roles=role_sets),
        st.builds(ev.DeclareEmergencyOverride, by=people, roles=role_sets, reason=reasons),
        st.builds(ev.TargetMoved, live_revision=st.sampled_from(["7", "8", "9"])),
        st.builds(
            ev.PlanChanged,
            live_revision=st.sampled_from(["8", "9", None]),
            to_revision=st.sampled_from(["5", None]),
            preflight=st.just(None),
            reason=st.just("the target moved"),
        ),
        st.just(ev.StartExecution()),
        st.builds(ev.ExecutionSucceeded, to_revision=st.just("6")),
        st.just(ev.VerificationPassed()),
        st.builds(ev.VerificationSkipped, summary=st.just("no checks")),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(list(RollbackType)),
    role_sets,
    st.booleans(),
    st.lists(st.tuples(_plan_events(), st.integers(min_value=0, max_value=60)), max_size=30),
)
def test_a_changed_plan_runs_only_after_a_person_approves_it_and_nothing_runs_twice(
    kind: RollbackType,
    requester_roles: frozenset[Role],
    auto_rollback: bool,
    steps: list[tuple[ev.Event, int]],
) -> None:
    request = make_request(
        kind, severity=Severity.P1, requester_roles=requester_roles, auto_rollback=auto_rollback
    )
    now, changed, starts = request.created_at, False, 0
    for event, minutes in steps:
        now = now + timedelta(minutes=minutes)
        try:
            moved, effects = apply(request, event, now)
        except DomainError:
            continue
        executes = any(isinstance(e, ev.ExecuteRollback) for e in effects)
        if isinstance(event, ev.TargetMoved | ev.PlanChanged):
            changed = True
            assert moved.state is RequestState.AWAITING_APPROVAL, "a changed plan waits"
            assert not moved.auto_approved
            assert not executes
        elif changed and executes:
            assert isinstance(event, ev.Approve), "only a person's approval runs a changed plan"
        if isinstance(event, ev.StartExecution):
            starts += 1
        assert starts <= 1, "a request executes once"
        request = moved
