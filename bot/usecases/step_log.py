"""One log event per step of a request, for the people on call: every audit entry a commit
wrote (request.opened, decision.*, approval.*, execution.*, verification.*, obligation.*, …)
becomes a structured event named by its action, with the request, its target, the actor and
the step's own fields. Written after the commit, so a line never describes a rolled-back step;
the audit log stays the record, this is what `kubectl logs` and a log search show."""

from __future__ import annotations

from typing import Any

import structlog

from bot.config.metrics import Metrics
from bot.domain import events as ev
from bot.domain.request import TERMINAL, RequestState
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


_ENDED = frozenset(s.value for s in TERMINAL)
_EXECUTED = {"execution.succeeded": "succeeded", "execution.failed": "failed"}


class StepLog:
    """The log line of every step; with `metrics`, the counters an SRE alerts on as well."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self._metrics = metrics

    def on_commit(self, committed: Committed) -> None:
        targets = {request.id: request.target.label for request, _ in committed.effects}
        for step in committed.audited:
            self.write(step, targets.get(step.request_id or ""))
        if self._metrics is not None:
            self.count(committed, self._metrics)

    @staticmethod
    def count(committed: Committed, metrics: Metrics) -> None:
        for request, effect in committed.of_type(ev.AuditEffect):
            outcome = _EXECUTED.get(effect.action)
            if outcome is not None:
                metrics.rollbacks.labels(outcome, request.rollback_type.value).inc()
            if effect.action == "decision.timeout_rollback":
                metrics.decision_timeouts.inc()
            if effect.to_state in _ENDED and effect.from_state not in _ENDED:
                took = (request.updated_at - request.created_at).total_seconds()
                metrics.request_duration.labels(RequestState(effect.to_state).value).observe(took)

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
