"""Rollback-or-forward-fix decision tree (the incident response standard "Rollback Decision Matrix")."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.severity import Severity

# The incident response standard: both the restore and the fix are judged against 30 minutes.
DEFAULT_THRESHOLD_MINUTES = 30


class RollbackAction(StrEnum):
    ROLLBACK = "rollback"
    FORWARD_FIX = "forward_fix"
    HYBRID = "hybrid"
    NO_ROLLBACK = "no_rollback"

    @property
    def label(self) -> str:
        return {
            RollbackAction.ROLLBACK: "ROLLBACK",
            RollbackAction.FORWARD_FIX: "FORWARD FIX",
            RollbackAction.HYBRID: "HYBRID (roll back infra + deploy patch)",
            RollbackAction.NO_ROLLBACK: "NO ROLLBACK (fix or defer)",
        }[self]


class DecisionAnswers(BaseModel):
    """Answers to the tree's questions other than severity, as a responder gives them."""

    model_config = ConfigDict(frozen=True)

    data_loss: bool = False
    issue_in_deployment: bool = True
    simple_to_revert: bool = True
    database_migration: bool = False
    # Minutes to restore from the pre-migration backup; None: no usable backup.
    restore_minutes: int | None = Field(default=None, ge=0)
    # Minutes until a fix could be live; None: no fix in sight.
    fix_minutes: int | None = Field(default=None, ge=0)
    hybrid_requested: bool = False
    threshold_minutes: int = Field(default=DEFAULT_THRESHOLD_MINUTES, gt=0)

    def for_severity(self, severity: Severity) -> DecisionInputs:
        return DecisionInputs(severity=severity, **self.model_dump())


class DecisionInputs(DecisionAnswers):
    """Everything the tree asks. None minutes mean 'no backup' / 'no fix ready'."""

    severity: Severity


class DecisionStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    question: str
    answer: str


class Recommendation(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: RollbackAction
    path: tuple[DecisionStep, ...]
    reason: str

    def render_path(self) -> str:
        lines = [f"{i}. {s.question} → {s.answer}" for i, s in enumerate(self.path, 1)]
        lines.append(f"⇒ {self.action.label}: {self.reason}")
        return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _minutes(value: int | None, unit: str) -> str:
    return f"no {unit}" if value is None else f"{value} min"


def _tree(i: DecisionInputs, path: list[DecisionStep]) -> tuple[RollbackAction, str]:
    limit = i.threshold_minutes
    path.append(
        DecisionStep(question="Is it low severity (P4)?", answer=_yes(i.severity is Severity.P4))
    )
    if i.severity is Severity.P4:
        return RollbackAction.NO_ROLLBACK, "cosmetic or internal: fix in the next sprint"
    critical = i.severity is Severity.P1
    path.append(DecisionStep(question="Is the issue critical (P1)?", answer=_yes(critical)))
    if critical:
        return RollbackAction.ROLLBACK, "restore service first, debug later"
    path.append(DecisionStep(question="Is it data loss or corruption?", answer=_yes(i.data_loss)))
    if i.data_loss:
        return RollbackAction.ROLLBACK, "prevent further data damage"
    path.append(
        DecisionStep(question="Is the issue in the deployment?", answer=_yes(i.issue_in_deployment))
    )
    if i.issue_in_deployment:
        path.append(
            DecisionStep(
                question="Is the deployment simple to revert?", answer=_yes(i.simple_to_revert)
            )
        )
        if i.simple_to_revert:
            return RollbackAction.ROLLBACK, "simple revert (image or config swap)"
    path.append(
        DecisionStep(
            question="Is the issue in a database migration?", answer=_yes(i.database_migration)
        )
    )
    if i.database_migration:
        quick = i.restore_minutes is not None and i.restore_minutes < limit
        path.append(
            DecisionStep(
                question=f"Can the pre-migration backup be restored in < {limit} min?",
                answer=f"{_yes(quick)} ({_minutes(i.restore_minutes, 'backup')})",
            )
        )
        if quick:
            return RollbackAction.ROLLBACK, "restore the pre-migration backup"
        return RollbackAction.FORWARD_FIX, "restore data and ship patched code"
    fast_fix = i.fix_minutes is not None and i.fix_minutes < limit
    path.append(
        DecisionStep(
            question=f"Can a fix be deployed in < {limit} min?",
            answer=f"{_yes(fast_fix)} ({_minutes(i.fix_minutes, 'fix ready')})",
        )
    )
    if fast_fix:
        return RollbackAction.FORWARD_FIX, "a fix is close: deploy the hotfix with priority"
    return RollbackAction.ROLLBACK, "no fix within reach: restore the last good version"


def answered_by_target(
    answers: DecisionAnswers, kind: str, restore_minutes: int | None
) -> DecisionAnswers:
    """What the target answers itself: a database rollback's issue is in a database migration,
    and the policy may say how long restoring its pre-migration backup takes."""
    if kind != "database":
        return answers
    return answers.model_copy(
        update={
            "issue_in_deployment": False,
            "database_migration": True,
            "restore_minutes": answers.restore_minutes
            if answers.restore_minutes is not None
            else restore_minutes,
        }
    )


def decide_rollback_or_fix(inputs: DecisionInputs) -> Recommendation:
    path: list[DecisionStep] = []
    action, reason = _tree(inputs, path)
    if inputs.hybrid_requested and action is not RollbackAction.NO_ROLLBACK:
        path.append(DecisionStep(question="Hybrid requested?", answer="yes"))
        reason = f"tree said {action.label}; hybrid requested"
        action = RollbackAction.HYBRID
    return Recommendation(action=action, path=tuple(path), reason=reason)
