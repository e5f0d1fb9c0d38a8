"""The month's rollback tests for the report: the drills run (passed, failed, how fast against
their target) and the readiness gate's answers (how many deploys it let through, which it held
back). The rollback standard makes a passing rollback test the condition of a production deploy;
the change management guide asks every rollback procedure to be tested, with its time kept."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from bot.domain.drills import Drill, DrillState, said_duration
from bot.domain.rollback_readiness import ReadinessAnswer


class RollbackTests(BaseModel):
    model_config = ConfigDict(frozen=True)

    drills: int
    passed: int
    failed: tuple[str, ...]  # "DR-… deployment/api -n staging: why"
    slowest_verified: str | None  # the slowest passing drill's time to verified, as said
    gate_answers: int
    gate_ready: int
    held_back: tuple[str, ...]  # "api:1.3.0 to deployment/api -n prod"


def rollback_tests(drills: Sequence[Drill], answers: Sequence[ReadinessAnswer]) -> RollbackTests:
    passed = [d for d in drills if d.state is DrillState.PASSED]
    times = [d.time_to_verified for d in passed if d.time_to_verified is not None]
    return RollbackTests(
        drills=len(drills),
        passed=len(passed),
        failed=tuple(
            f"{d.id} {d.target.label}: {d.failure or 'failed'}"
            for d in drills
            if d.state is DrillState.FAILED
        ),
        slowest_verified=said_duration(max(times)) if times else None,
        gate_answers=len(answers),
        gate_ready=sum(a.ready for a in answers),
        held_back=tuple(
            dict.fromkeys(f"{a.version} to {a.target.label}" for a in answers if not a.ready)
        ),
    )


def rollback_test_rows(tests: RollbackTests) -> list[tuple[str, str]]:
    """The section's lines, in the words every format of the report shows."""
    slowest = f", slowest verified in {tests.slowest_verified}" if tests.slowest_verified else ""
    return [
        ("rollback drills", f"{tests.drills} ({tests.passed} passed{slowest})"),
        ("failed drills", "; ".join(tests.failed) or "none"),
        (
            "readiness gate",
            f"{tests.gate_answers} answers, {tests.gate_ready} ready, "
            f"{tests.gate_answers - tests.gate_ready} not ready",
        ),
        ("deploys held back", "; ".join(tests.held_back) or "none"),
    ]
