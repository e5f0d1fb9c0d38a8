"""The readiness gate a deploy asks before it ships: has this version's rollback been rehearsed
recently, and could production still be rolled back right now? Pure: the platform's answers
come in as facts, the drills as records; the answer is each condition with one line."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from bot.domain.drills import Drill, DrillState, said_duration
from bot.domain.request import TargetRef


class RollbackPathFacts(BaseModel):
    """What the platform says about the target's rollback path now. A field left None was not
    asked (it means nothing for this kind of target)."""

    model_config = ConfigDict(frozen=True)

    target: TargetRef
    # Kubernetes: spec.revisionHistoryLimit (None: the default, 10)
    revision_history_limit: int | None = None
    # the revision a rollback would go to; None: there is none in the history
    previous_revision: str | None = None
    paused: bool | None = None
    # kubectl rollout status's words while a rollout is still going; None: complete
    rollout_in_progress: str | None = None
    # who else owns the target ("Argo CD application shop/api"), or what marks it as owned by a
    # controller rollbot cannot name
    gitops_owner: str | None = None
    unknown_owner_marker: str | None = None
    # the target could not be read at all (a flag key that does not exist, a missing deployment)
    unreadable: str | None = None


class Condition(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    ok: bool
    line: str


class ReadinessAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    target: TargetRef
    version: str
    at: datetime
    conditions: tuple[Condition, ...]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.conditions)

    @property
    def failing(self) -> tuple[Condition, ...]:
        return tuple(c for c in self.conditions if not c.ok)


def ran_version(drill: Drill, version: str) -> bool:
    """Whether the drill started from `version`: an image it ran (`repo/api:v2`), that image's
    tag (`v2`), or the revision it started at."""
    if drill.start_revision == version:
        return True
    images = (drill.start_identity or "").split(", ")
    return any(image == version or image.rpartition(":")[2] == version for image in images)


def _drilled(
    target: TargetRef, version: str, drills: Iterable[Drill], now: datetime, window: timedelta
) -> Condition:
    mine = [
        d
        for d in drills
        if (d.target.kind, d.target.name) == (target.kind, target.name) and ran_version(d, version)
    ]
    passed = sorted(
        (d for d in mine if d.state is DrillState.PASSED and d.finished_at is not None),
        key=lambda d: d.started_at,
    )
    if passed:
        last = passed[-1]
        assert last.finished_at is not None
        age = now - last.finished_at
        took = last.time_to_verified or timedelta(0)
        if age <= window:
            return Condition(
                name="drill",
                ok=True,
                line=f"drill {last.id} in {last.environment} passed at {last.finished_at:%Y-%m-%d %H:%M} UTC "
                f"(rolled back and verified in {said_duration(took)})",
            )
        return Condition(
            name="drill",
            ok=False,
            line=f"the last passing drill of {version} ({last.id}) is {_age(age)} old, older than "
            f"the {_age(window)} the policy accepts: run `rollbot drill {target.kind}/{target.name}` again",
        )
    failed = [d for d in mine if d.state is DrillState.FAILED]
    if failed:
        last_failed = max(failed, key=lambda d: d.started_at)
        return Condition(
            name="drill",
            ok=False,
            line=f"the last drill of {version} ({last_failed.id}) failed: {last_failed.failure}",
        )
    return Condition(
        name="drill",
        ok=False,
        line=f"no drill has rolled {target.kind}/{target.name} back from {version}: run "
        f"`rollbot drill {target.kind}/{target.name} -n <drill namespace>` with {version} deployed there",
    )


def _age(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    return f"{hours} h" if hours else said_duration(span)


def _path(facts: RollbackPathFacts) -> list[Condition]:
    """The conditions production must meet to be rolled back at all."""
    label = facts.target.label
    if facts.unreadable is not None:
        return [Condition(name="readable", ok=False, line=facts.unreadable)]
    found: list[Condition] = []
    if facts.revision_history_limit == 0:
        found.append(
            Condition(
                name="history",
                ok=False,
                line=f"`{label}` keeps no old ReplicaSets (revisionHistoryLimit: 0), so there is "
                "nothing to roll back to: set it to 10 or more",
            )
        )
    elif facts.target.kind == "deployment" and facts.previous_revision is None:
        found.append(
            Condition(
                name="history",
                ok=False,
                line=f"`{label}` has no earlier revision in its history to roll back to",
            )
        )
    if facts.paused:
        found.append(
            Condition(
                name="paused",
                ok=False,
                line=f"`{label}` is paused; a rollback would not roll out: "
                f"`kubectl rollout resume {facts.target.kind}/{facts.target.name}`",
            )
        )
    if facts.rollout_in_progress is not None:
        found.append(
            Condition(
                name="rollout",
                ok=False,
                line=f"`{label}` is still rolling out: {facts.rollout_in_progress}",
            )
        )
    if facts.unknown_owner_marker is not None:
        found.append(
            Condition(
                name="owner",
                ok=False,
                line=f"`{label}` carries {facts.unknown_owner_marker} but rollbot cannot tell which "
                "controller owns it; a manual rollback could be reverted by it",
            )
        )
    if not found:
        owner = f"; it is owned by {facts.gitops_owner}" if facts.gitops_owner else ""
        back = f" to revision {facts.previous_revision}" if facts.previous_revision else ""
        found.append(
            Condition(
                name="rollback_path", ok=True, line=f"`{label}` can be rolled back{back}{owner}"
            )
        )
    return found


def assess(
    facts: RollbackPathFacts,
    version: str,
    drills: Iterable[Drill],
    now: datetime,
    window: timedelta,
) -> ReadinessAnswer:
    """The gate's answer for deploying `version` to the target the facts describe."""
    conditions = (_drilled(facts.target, version, drills, now, window), *_path(facts))
    return ReadinessAnswer(target=facts.target, version=version, at=now, conditions=conditions)
