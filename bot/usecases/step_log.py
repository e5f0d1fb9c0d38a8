"""One log event per step of a request, for the people on call: every audit entry a commit
wrote (request.opened, decision.*, approval.*, execution.*, verification.*, obligation.*, …)
becomes a structured event named by its action, with the request, its target, the actor and
the step's own fields. Written after the commit, so a line never describes a rolled-back step;
the audit log stays the record, this is what `kubectl logs` and a log search show."""

from __future__ import annotations

from typing import Any

import structlog

from bot.store.audit_log import AuditedStep
from bot.store.uow import Committed

log = structlog.get_logger("rollbot.steps")
_LONGEST = 300  # a field longer than this is cut; the audit log keeps it whole


def _fields(payload: dict[str, Any]) -> dict[str, Any]:
    """The step's scalar fields, renamed where they would clash with the event's own keys."""
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, bool | int | float):
            out[key] = value
        elif isinstance(value, str):
            out[key] = value if len(value) <= _LONGEST else value[:_LONGEST] + "…"
    for clash, name in (("from", "from_state"), ("to", "to_state"), ("event", "step_event")):
        if clash in out:
            out[name] = out.pop(clash)
    return out


class StepLog:
    def on_commit(self, committed: Committed) -> None:
        targets = {request.id: request.target.label for request, _ in committed.effects}
        for step in committed.audited:
            self.write(step, targets.get(step.request_id or ""))

    @staticmethod
    def write(step: AuditedStep, target: str | None) -> None:
        fields = _fields(step.payload)
        if target is not None:
            fields["target"] = target
        log.info(
            step.action,
            request=step.request_id,
            incident=step.incident_id,
            actor=step.actor.label,
            **fields,
        )
