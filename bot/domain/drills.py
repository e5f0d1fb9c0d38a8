"""A rollback drill: rehearse a rollback where it harms nobody, and keep the proof.

One drill rolls a target back to its previous version with the real executor, proves that
version works with the service's checks, rolls forward to where it started and proves that
too. Like a request it moves through one table of accepted events with one pure `apply`; unlike
a request it has no approvals, deadlines or post-mortem: nothing is broken.

The rollback standard's success: verified within the target time (5 minutes), no data lost,
and the roll-forward restoring the start."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bot.domain.drill_policy import DrillPolicy
from bot.domain.errors import DomainError
from bot.domain.people import Person
from bot.domain.request import TargetRef

DRILL_ID = re.compile(r"^DR-[0-9A-Z]{4,16}$")


class DrillStep(StrEnum):
    """What a running drill does now, in order; a failed drill keeps the step that failed."""

    ROLLBACK = "rollback"
    VERIFY_ROLLBACK = "verify_rollback"
    ROLL_FORWARD = "roll_forward"
    VERIFY_FORWARD = "verify_forward"
    DONE = "done"

    @property
    def said(self) -> str:
        return _SAID[self]


_SAID = {
    DrillStep.ROLLBACK: "rolling back to the previous version",
    DrillStep.VERIFY_ROLLBACK: "checking the previous version",
    DrillStep.ROLL_FORWARD: "rolling forward to the starting version",
    DrillStep.VERIFY_FORWARD: "checking the starting version again",
    DrillStep.DONE: "finished",
}


class DrillState(StrEnum):
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"


class RolledOut(BaseModel):
    """The executor finished a rollout: what runs now."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    revision: str
    identity: str | None = None


class Checked(BaseModel):
    """The service's checks ran against what runs now (or none were configured: ran=False)."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    passed: bool
    summary: str
    checks: dict[str, str] = {}
    ran: bool = True


class StepFailed(BaseModel):
    """The running step could not be done; the target is left as the step left it."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    reason: str


DrillEvent = RolledOut | Checked | StepFailed

# The one table: which event each step accepts, and the step it leads to.
ACCEPTS: dict[DrillStep, tuple[type[BaseModel], DrillStep]] = {
    DrillStep.ROLLBACK: (RolledOut, DrillStep.VERIFY_ROLLBACK),
    DrillStep.VERIFY_ROLLBACK: (Checked, DrillStep.ROLL_FORWARD),
    DrillStep.ROLL_FORWARD: (RolledOut, DrillStep.VERIFY_FORWARD),
    DrillStep.VERIFY_FORWARD: (Checked, DrillStep.DONE),
}


class DrillRefusedError(DomainError):
    """A drill that may not run, or an event a drill does not accept now."""


class Drill(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    target: TargetRef
    # The namespace or context that made it a drill environment (or the game day's).
    environment: str
    requested_by: Person
    started_at: datetime
    # The policy's target time when the drill started: the verdict uses this one.
    target_time: timedelta
    start_revision: str | None
    start_identity: str | None = None
    previous_revision: str | None = None
    previous_identity: str | None = None
    state: DrillState = DrillState.RUNNING
    step: DrillStep = DrillStep.ROLLBACK
    version: int = 0
    rolled_back_at: datetime | None = None
    rolled_back_to: str | None = None
    rollback_verified_at: datetime | None = None
    rollback_checks: dict[str, str] = {}
    rolled_forward_at: datetime | None = None
    rolled_forward_identity: str | None = None
    forward_checks: dict[str, str] = {}
    finished_at: datetime | None = None
    # Why it failed, in one line: the step and what happened.
    failure: str | None = None

    @property
    def time_to_rolled_out(self) -> timedelta | None:
        return None if self.rolled_back_at is None else self.rolled_back_at - self.started_at

    @property
    def time_to_verified(self) -> timedelta | None:
        at = self.rollback_verified_at
        return None if at is None else at - self.started_at


def said_duration(span: timedelta) -> str:
    """`4 min 12 s`, `38 s`: how long, as people read it on a card."""
    if span < timedelta(seconds=10):
        return f"{span.total_seconds():.1f} s"
    minutes, rest = divmod(int(span.total_seconds()), 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _checked(drill: Drill, event: Checked) -> Drill:
    step = drill.step
    rollback = step is DrillStep.VERIFY_ROLLBACK
    fields = (
        {"rollback_verified_at": event.at, "rollback_checks": event.checks}
        if rollback
        else {"forward_checks": event.checks}
    )
    if not event.ran:
        why = "no checks are configured for the service, so nothing proved it works"
        return _failed(drill.model_copy(update=fields), event.at, f"{step.said}: {why}")
    if not event.passed:
        return _failed(drill.model_copy(update=fields), event.at, f"{step.said}: {event.summary}")
    moved = drill.model_copy(update={**fields, "step": ACCEPTS[step][1]})
    return verdict(moved, event.at) if moved.step is DrillStep.DONE else moved


def _rolled_out(drill: Drill, event: RolledOut) -> Drill:
    if drill.step is DrillStep.ROLLBACK:
        fields = {"rolled_back_at": event.at, "rolled_back_to": event.identity or event.revision}
    else:
        fields = {"rolled_forward_at": event.at, "rolled_forward_identity": event.identity}
    return drill.model_copy(update={**fields, "step": ACCEPTS[drill.step][1]})


def _failed(drill: Drill, at: datetime, why: str) -> Drill:
    return drill.model_copy(update={"state": DrillState.FAILED, "finished_at": at, "failure": why})


def apply(drill: Drill, event: DrillEvent) -> Drill:
    """The drill after `event`, one version on; refused when the drill does not accept it now."""
    if drill.state is not DrillState.RUNNING:
        raise DrillRefusedError(f"drill {drill.id} has {drill.state.value}; it takes no more steps")
    if isinstance(event, StepFailed):
        moved = _failed(drill, event.at, f"{drill.step.said}: {event.reason}")
    else:
        accepted, _ = ACCEPTS[drill.step]
        if not isinstance(event, accepted):
            raise DrillRefusedError(
                f"drill {drill.id} is {drill.step.said}; it does not take {type(event).__name__}"
            )
        moved = (
            _rolled_out(drill, event) if isinstance(event, RolledOut) else _checked(drill, event)
        )
    return moved.model_copy(update={"version": drill.version + 1})


def verdict(drill: Drill, at: datetime) -> Drill:
    """Passed when the rollback was verified within the target and the roll-forward restored
    the start; otherwise failed, saying which (with the measured time)."""
    took = drill.time_to_verified
    assert took is not None  # the rollback's check ran before the drill got here
    if took > drill.target_time:
        why = (
            f"the rollback was verified after {said_duration(took)}, past the "
            f"{said_duration(drill.target_time)} target"
        )
        return _failed(drill, at, why)
    if drill.start_identity is not None and drill.rolled_forward_identity != drill.start_identity:
        why = (
            f"the roll-forward left {drill.rolled_forward_identity or 'something unknown'} "
            f"running, not {drill.start_identity} that ran at the start"
        )
        return _failed(drill, at, why)
    return drill.model_copy(update={"state": DrillState.PASSED, "finished_at": at})


def refusal(target: TargetRef, rules: DrillPolicy, context: str | None) -> str | None:
    """Why a drill may not run against `target` unasked; None when it may."""
    if rules.is_drill_environment(target.namespace, context):
        return None
    environments = rules.environments
    places = [p for p in (target.namespace, context) if p]
    where = f"`{places[0]}`" if places else f"`{target.label}`'s environment"
    if not environments:
        return (
            "drills are off: list the namespaces or contexts where a rollback may be rehearsed "
            "under `drills.environments` in the policy file"
        )
    allowed = ", ".join(environments)
    if not rules.game_days:
        return (
            f"{where} is not a drill environment ({allowed}); a drill there is a game day, "
            "which the policy does not allow (`drills.game_days`)"
        )
    return (
        f"{where} is not a drill environment ({allowed}): a game day there needs the "
        "approvals a rollback there needs; request it as a rollback in Slack"
    )


def inspect_commands(drill: Drill) -> tuple[str, ...]:
    """What a person runs to see the target as a failed drill left it."""
    target = drill.target
    if target.kind == "deployment":
        ns = target.namespace or "default"
        return (
            f"kubectl -n {ns} rollout status deployment/{target.name}",
            f"kubectl -n {ns} rollout history deployment/{target.name}",
            f"kubectl -n {ns} describe deployment/{target.name}",
        )
    if target.kind == "configmap":
        return (f"kubectl -n {target.namespace or 'default'} get configmap/{target.name} -o yaml",)
    return (f"rollbot requests list --target {target.label}",)


def _ago(span: timedelta) -> str:
    if span >= timedelta(days=2):
        return f"{span.days} days"
    if span >= timedelta(hours=1):
        return f"{int(span.total_seconds() // 3600)} h"
    return f"{max(int(span.total_seconds() // 60), 0)} min"


def last_rehearsal(
    drills: Sequence[Drill], target: TargetRef, environments: tuple[str, ...], now: datetime
) -> str | None:
    """What the card says of the last drill of this rollback (the same service rehearsed in a
    drill environment); None when drills are off and none ran."""
    done = [d for d in drills if d.finished_at is not None and d.state is not DrillState.RUNNING]
    if not done:
        if not environments:
            return None
        return (
            f"never: `rollbot drill {target.kind}/{target.name} -n {environments[0]}` rehearses it"
        )
    last = max(done, key=lambda d: d.finished_at or d.started_at)
    ago = _ago(now - (last.finished_at or last.started_at))
    if last.state is DrillState.PASSED and last.time_to_verified is not None:
        return (
            f"{last.id} in {last.environment}, {ago} ago: passed, rollback verified in "
            f"{said_duration(last.time_to_verified)} (target {said_duration(last.target_time)})"
        )
    return f"{last.id} in {last.environment}, {ago} ago: FAILED ({last.failure or 'failed'})"
