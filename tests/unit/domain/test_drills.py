"""The drill's one table and its verdict, the refusals, and the readiness gate's conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import drills as dr
from bot.domain.drill_policy import DrillPolicy
from bot.domain.people import Person
from bot.domain.request import TargetRef
from bot.domain.rollback_readiness import (
    Condition,
    ReadinessAnswer,
    RollbackPathFacts,
    assess,
    ran_version,
)
from bot.domain.rollback_tests import rollback_test_rows, rollback_tests

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
STAGING = TargetRef(kind="deployment", name="api", namespace="staging")
PROD = TargetRef(kind="deployment", name="api", namespace="prod")


def _drill(**fields: object) -> dr.Drill:
    base: dict[str, object] = {
        "id": "DR-ABCDEF",
        "target": STAGING,
        "environment": "staging",
        "requested_by": Person(id="U0ALICE"),
        "started_at": T0,
        "target_time": timedelta(minutes=5),
        "start_revision": "3",
        "start_identity": "repo/api:v2",
    }
    return dr.Drill.model_validate(base | fields)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _through(drill: dr.Drill, *events: dr.DrillEvent) -> dr.Drill:
    for event in events:
        drill = dr.apply(drill, event)
    return drill


def _ok(seconds: float) -> dr.Checked:
    return dr.Checked(at=_at(seconds), passed=True, summary="all checks passed", checks={"a": "ok"})


def _passing(forward_identity: str = "repo/api:v2", verified_at: float = 60) -> dr.Drill:
    return _through(
        _drill(),
        dr.RolledOut(at=_at(30), revision="4", identity="repo/api:v1"),
        _ok(verified_at),
        dr.RolledOut(at=_at(verified_at + 30), revision="5", identity=forward_identity),
        _ok(verified_at + 60),
    )


def test_a_drill_that_restores_its_start_in_time_passes_with_its_times() -> None:
    drill = _passing()
    assert drill.state is dr.DrillState.PASSED
    assert drill.step is dr.DrillStep.DONE
    assert drill.time_to_rolled_out == timedelta(seconds=30)
    assert drill.time_to_verified == timedelta(seconds=60)
    assert drill.version == 4
    assert drill.finished_at == _at(120)
    assert drill.rolled_back_to == "repo/api:v1"


def test_too_slow_a_rollback_fails_with_the_measured_time() -> None:
    drill = _passing(verified_at=372)
    assert drill.state is dr.DrillState.FAILED
    assert drill.failure == "the rollback was verified after 6 min 12 s, past the 5 min target"


def test_a_roll_forward_that_does_not_restore_the_start_fails() -> None:
    drill = _passing(forward_identity="repo/api:v1")
    assert drill.failure == (
        "the roll-forward left repo/api:v1 running, not repo/api:v2 that ran at the start"
    )


def test_a_failed_check_or_no_check_fails_the_step_and_ends_the_drill() -> None:
    rolled = dr.apply(_drill(), dr.RolledOut(at=_at(5), revision="4"))
    assert rolled.rolled_back_to == "4"  # no identity known: the revision
    bad = dr.apply(rolled, dr.Checked(at=_at(9), passed=False, summary="api: 503"))
    assert bad.failure == "checking the previous version: api: 503"
    none = dr.apply(rolled, dr.Checked(at=_at(9), passed=True, summary="-", ran=False))
    assert none.failure is not None
    assert "no checks are configured" in none.failure
    with pytest.raises(dr.DrillRefusedError, match="has failed; it takes no more steps"):
        dr.apply(bad, _ok(10))


def test_each_step_accepts_only_its_event_and_a_step_failure_names_the_step() -> None:
    with pytest.raises(dr.DrillRefusedError, match="rolling back to the previous version"):
        dr.apply(_drill(), _ok(1))
    failed = dr.apply(_drill(), dr.StepFailed(at=_at(2), reason="patch refused"))
    assert failed.failure == "rolling back to the previous version: patch refused"
    assert failed.time_to_rolled_out is None
    assert failed.time_to_verified is None


def test_durations_are_said_as_people_read_them() -> None:
    assert dr.said_duration(timedelta(seconds=0.25)) == "0.2 s"
    assert dr.said_duration(timedelta(seconds=38)) == "38 s"
    assert dr.said_duration(timedelta(seconds=252)) == "4 min 12 s"
    assert dr.said_duration(timedelta(minutes=5)) == "5 min"
    assert dr.DrillStep.DONE.said == "finished"


def test_drills_run_only_where_the_policy_allows_them() -> None:
    assert (
        dr.refusal(STAGING, DrillPolicy(environments=("staging",), game_days=False), None) is None
    )
    assert (
        dr.refusal(PROD, DrillPolicy(environments=("staging-ctx",), game_days=False), "staging-ctx")
        is None
    )
    off = dr.refusal(STAGING, DrillPolicy(environments=(), game_days=False), None)
    assert off is not None
    assert off.startswith("drills are off")
    refused = dr.refusal(PROD, DrillPolicy(environments=("staging",), game_days=False), None)
    assert refused is not None
    assert "`prod` is not a drill environment (staging)" in refused
    assert "does not allow" in refused
    game = dr.refusal(PROD, DrillPolicy(environments=("staging",), game_days=True), None)
    assert game is not None
    assert "needs the approvals" in game
    flag = TargetRef(kind="flag", name="checkout")
    nowhere = dr.refusal(flag, DrillPolicy(environments=("staging",), game_days=False), None)
    assert nowhere is not None
    assert "`flag/checkout`'s environment" in nowhere


def test_a_failed_drill_names_how_to_inspect_the_target() -> None:
    assert dr.inspect_commands(_drill())[0] == "kubectl -n staging rollout status deployment/api"
    cm = _drill(target=TargetRef(kind="configmap", name="cfg", namespace="staging"))
    assert dr.inspect_commands(cm) == ("kubectl -n staging get configmap/cfg -o yaml",)
    flag = _drill(target=TargetRef(kind="flag", name="checkout"))
    assert dr.inspect_commands(flag) == ("rollbot requests list --target flag/checkout",)


FACTS = RollbackPathFacts(
    target=PROD, revision_history_limit=10, previous_revision="6", paused=False
)
WINDOW = timedelta(hours=72)


def test_the_gate_is_ready_after_a_recent_passing_drill_of_the_version() -> None:
    answer = assess(FACTS, "v2", [_passing()], _at(3600), WINDOW)
    assert answer.ready
    assert answer.failing == ()
    assert "drill DR-ABCDEF in staging passed" in answer.conditions[0].line
    assert answer.conditions[1].line == "`deployment/api -n prod` can be rolled back to revision 6"
    owned = FACTS.model_copy(update={"gitops_owner": "Argo CD application shop"})
    assert (
        assess(owned, "v2", [_passing()], _at(60), WINDOW)
        .conditions[1]
        .line.endswith("; it is owned by Argo CD application shop")
    )


def test_the_gate_names_an_old_a_failed_or_a_missing_drill() -> None:
    old = assess(FACTS, "v2", [_passing()], _at(5 * 86400), WINDOW)
    assert not old.ready
    assert "is 4 days old, older than the 3 days the policy accepts" in old.failing[0].line
    hours = assess(FACTS, "v2", [_passing()], _at(3 * 3600), timedelta(hours=1))
    assert "is 2 h old, older than the 1 h" in hours.failing[0].line
    failed = _passing(verified_at=400)
    assert (
        "failed: the rollback was verified after 6 min 40 s"
        in assess(FACTS, "v2", [failed], _at(500), WINDOW).failing[0].line
    )
    assert (
        "no drill has rolled deployment/api back from v3"
        in assess(FACTS, "v3", [_passing()], _at(60), WINDOW).failing[0].line
    )


def test_the_gate_names_each_broken_rollback_path() -> None:
    broken = RollbackPathFacts(
        target=PROD,
        revision_history_limit=0,
        paused=True,
        rollout_in_progress="1 out of 3 new replicas have been updated",
        unknown_owner_marker="the label app.kubernetes.io/managed-by=pulumi",
    )
    lines = [c.line for c in assess(broken, "v2", [_passing()], _at(60), WINDOW).failing]
    assert len(lines) == 4
    assert "revisionHistoryLimit: 0" in lines[0]
    assert "is paused" in lines[1]
    assert "still rolling out: 1 out of 3" in lines[2]
    assert "managed-by=pulumi" in lines[3]
    no_history = FACTS.model_copy(update={"previous_revision": None})
    assert "has no earlier revision" in assess(no_history, "v2", [], _at(1), WINDOW).failing[1].line
    gone = RollbackPathFacts(target=PROD, unreadable="flag `x` does not exist")
    assert (
        assess(gone, "v2", [_passing()], _at(1), WINDOW).failing[0].line
        == "flag `x` does not exist"
    )


def test_a_drill_ran_a_version_by_image_tag_or_revision() -> None:
    drill = _drill(start_identity="repo/api:v2, repo/side:1.4")
    assert ran_version(drill, "v2")
    assert ran_version(drill, "repo/side:1.4")
    assert ran_version(drill, "3")
    assert not ran_version(drill, "v1")


def test_the_months_rollback_tests_for_the_report() -> None:
    failed = _through(_drill(id="DR-FAILED"), dr.StepFailed(at=_at(5), reason="rollout stuck"))
    slow = _passing(verified_at=200)
    running = _drill(id="DR-RUNNING")

    def answer(ok: bool, version: str) -> ReadinessAnswer:
        held = (Condition(name="drilled", ok=ok, line="a drill"),)
        return ReadinessAnswer(target=PROD, version=version, at=T0, conditions=held)

    answers = [answer(False, "api:1.3.0"), answer(False, "api:1.3.0"), answer(True, "api:1.3.0")]
    tests = rollback_tests([_passing(), slow, failed, running], answers)
    assert (tests.drills, tests.passed, tests.gate_answers, tests.gate_ready) == (4, 2, 3, 1)
    assert tests.failed == (
        "DR-FAILED deployment/api -n staging: rolling back to the previous version: rollout stuck",
    )
    assert tests.slowest_verified == "3 min 20 s"
    assert tests.held_back == ("api:1.3.0 to deployment/api -n prod",)  # said once
    rows = dict(rollback_test_rows(tests))
    assert rows["rollback drills"] == "4 (2 passed, slowest verified in 3 min 20 s)"
    assert rows["readiness gate"] == "3 answers, 1 ready, 2 not ready"
    quiet = dict(rollback_test_rows(rollback_tests([], [])))
    assert quiet["rollback drills"] == "0 (0 passed)"
    assert (quiet["failed drills"], quiet["deploys held back"]) == ("none", "none")


def test_the_cards_line_on_the_last_rehearsal() -> None:
    passed = _passing()
    failed = _through(
        _drill(id="DR-FAILED", started_at=T0 + timedelta(days=3)),
        dr.StepFailed(at=T0 + timedelta(days=3, seconds=5), reason="rollout stuck"),
    )
    later = T0 + timedelta(days=3, hours=2)
    assert dr.last_rehearsal([passed, failed], PROD, ("staging",), later) == (
        "DR-FAILED in staging, 1 h ago: FAILED (rolling back to the previous version: rollout stuck)"
    )
    assert dr.last_rehearsal([passed], PROD, ("staging",), T0 + timedelta(days=4)) == (
        "DR-ABCDEF in staging, 3 days ago: passed, rollback verified in 1 min (target 5 min)"
    )
    assert dr.last_rehearsal([passed], PROD, (), T0 + timedelta(minutes=5)).startswith(  # type: ignore[union-attr]
        "DR-ABCDEF in staging, 3 min ago"
    )
    assert dr.last_rehearsal([_drill()], PROD, ("staging",), T0) == (
        "never: `rollbot drill deployment/api -n staging` rehearses it"
    )
    assert dr.last_rehearsal([], PROD, (), T0) is None
