"""A target's rollback drills as `/rollback drills` shows them: each drill's outcome and its
times against its target, and for a failed one the step and why."""

from __future__ import annotations

from bot.domain.drills import Drill, DrillState, said_duration
from handlers.blockkit.cards import Message, ephemeral, escape

_MARK = {DrillState.PASSED: ":white_check_mark:", DrillState.FAILED: ":x:"}


def _line(d: Drill) -> str:
    mark = _MARK.get(d.state, ":hourglass:")
    head = f"{mark} {d.id} in {escape(d.environment)} · {d.started_at:%Y-%m-%d %H:%M} UTC · {d.state.value}"
    if d.time_to_verified is not None:
        head += (
            f" · rollback verified in {said_duration(d.time_to_verified)} "
            f"(target {said_duration(d.target_time)})"
        )
    if d.state is DrillState.FAILED:
        head += f" · {escape(d.failure or 'failed')}"
    return head


def drills_reply(target: str, drills: list[Drill]) -> Message:
    if not drills:
        return ephemeral(
            f"No rollback drills of `{escape(target)}` yet: `rollbot drill {escape(target)}` "
            "rehearses one in a drill environment."
        )
    lines = "\n".join(_line(d) for d in drills)
    return ephemeral(f"*Rollback drills of `{escape(target)}`* (newest first)\n{lines}")
