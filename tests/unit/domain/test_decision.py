"""Decision tree. Source: the rollback and incident response standard "Rollback Decision Matrix"."""

from __future__ import annotations

import pytest

from bot.domain.decision import DecisionInputs, RollbackAction, decide_rollback_or_fix
from bot.domain.severity import Severity

R, F, H, N = (
    RollbackAction.ROLLBACK,
    RollbackAction.FORWARD_FIX,
    RollbackAction.HYBRID,
    RollbackAction.NO_ROLLBACK,
)
P1, P2, P3, P4 = Severity.P1, Severity.P2, Severity.P3, Severity.P4


@pytest.mark.parametrize(
    ("inputs", "action", "last_question"),
    [
        # "Is the issue CRITICAL (P1)? YES: ROLLBACK (don't debug; restore service first)"
        (DecisionInputs(severity=P1, issue_in_deployment=False), R, "critical (P1)"),
        # "Is the issue a DATA LOSS or CORRUPTION incident? YES: ROLLBACK"
        (DecisionInputs(severity=P2, data_loss=True, issue_in_deployment=False), R, "data loss"),
        # "Is the issue in the DEPLOYMENT? Simple (.jar swap, config change): ROLLBACK"
        (DecisionInputs(severity=P2), R, "simple to revert"),
        # "Complex (schema change): Continue below" -> migration with restore < 30 min: ROLLBACK
        (
            DecisionInputs(
                severity=P2, simple_to_revert=False, database_migration=True, restore_minutes=20
            ),
            R,
            "backup be restored",
        ),
        # "NO, >30 min: FORWARD FIX (restore data + patched code)"
        (
            DecisionInputs(
                severity=P2, simple_to_revert=False, database_migration=True, restore_minutes=45
            ),
            F,
            "backup be restored",
        ),
        # no usable backup at all: forward fix
        (
            DecisionInputs(severity=P3, issue_in_deployment=False, database_migration=True),
            F,
            "backup be restored",
        ),
        # exactly 30 minutes is not "< 30 min"
        (
            DecisionInputs(
                severity=P3, issue_in_deployment=False, database_migration=True, restore_minutes=30
            ),
            F,
            "backup be restored",
        ),
        # "Can the fix be deployed in <30 min? YES: FORWARD FIX"
        (
            DecisionInputs(severity=P2, issue_in_deployment=False, fix_minutes=10),
            F,
            "fix be deployed",
        ),
        # "NO: ROLLBACK"
        (
            DecisionInputs(severity=P2, issue_in_deployment=False, fix_minutes=90),
            R,
            "fix be deployed",
        ),
        (DecisionInputs(severity=P3, simple_to_revert=False), R, "fix be deployed"),
        # the rollback and incident response standard P4: "Decision: Fix or defer (no rollback needed)"
        (DecisionInputs(severity=P4, data_loss=True), N, "low severity"),
        # "HYBRID: Rollback infra + deploy patch simultaneously", when asked for
        (DecisionInputs(severity=P1, hybrid_requested=True), H, "Hybrid requested"),
        (
            DecisionInputs(
                severity=P2, issue_in_deployment=False, fix_minutes=5, hybrid_requested=True
            ),
            H,
            "Hybrid",
        ),
        # hybrid does not turn "no rollback needed" into a rollback
        (DecisionInputs(severity=P4, hybrid_requested=True), N, "low severity"),
        # the threshold is a parameter: 60 minutes makes a 45-minute restore quick enough
        (
            DecisionInputs(
                severity=P2,
                simple_to_revert=False,
                database_migration=True,
                restore_minutes=45,
                threshold_minutes=60,
            ),
            R,
            "< 60 min",
        ),
    ],
)
def test_decision_tree_table(
    inputs: DecisionInputs, action: RollbackAction, last_question: str
) -> None:
    result = decide_rollback_or_fix(inputs)
    assert result.action is action
    assert last_question in result.path[-1].question


def test_path_records_every_question_and_answer_in_order() -> None:
    result = decide_rollback_or_fix(
        DecisionInputs(
            severity=P2, simple_to_revert=False, database_migration=True, restore_minutes=45
        )
    )
    assert [(s.question, s.answer) for s in result.path] == [
        ("Is it low severity (P4)?", "no"),
        ("Is the issue critical (P1)?", "no"),
        ("Is it data loss or corruption?", "no"),
        ("Is the issue in the deployment?", "yes"),
        ("Is the deployment simple to revert?", "no"),
        ("Is the issue in a database migration?", "yes"),
        ("Can the pre-migration backup be restored in < 30 min?", "no (45 min)"),
    ]
    assert result.reason == "restore data and ship patched code"


def test_rendered_path_is_what_the_bot_prints() -> None:
    result = decide_rollback_or_fix(DecisionInputs(severity=P2, issue_in_deployment=False))
    assert result.render_path() == "\n".join(
        [
            "1. Is it low severity (P4)? → no",
            "2. Is the issue critical (P1)? → no",
            "3. Is it data loss or corruption? → no",
            "4. Is the issue in the deployment? → no",
            "5. Is the issue in a database migration? → no",
            "6. Can a fix be deployed in < 30 min? → no (no fix ready)",
            "⇒ ROLLBACK: no fix within reach: restore the last good version",
        ]
    )


@pytest.mark.parametrize("action", list(RollbackAction))
def test_every_action_has_a_label(action: RollbackAction) -> None:
    assert action.label.split()[0] in {"ROLLBACK", "FORWARD", "HYBRID", "NO"}


def test_answers_combine_with_a_severity() -> None:
    from bot.domain.decision import DecisionAnswers

    answers = DecisionAnswers(issue_in_deployment=False, fix_minutes=10)
    assert answers.for_severity(P2) == DecisionInputs(
        severity=P2, issue_in_deployment=False, fix_minutes=10
    )
    assert decide_rollback_or_fix(answers.for_severity(P1)).action is R
