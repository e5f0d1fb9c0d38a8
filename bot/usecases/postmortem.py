"""The post-mortem draft posted after a rollback ends (the rollback runbook: post-mortem within 48 hours):
what rollbot knows filled in, what only people know left as fields to fill."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.domain.notices import PostmortemDraft
from bot.domain.request import RollbackRequest
from bot.usecases.reports import facts_of

DECISIONS = frozenset(
    {"decision.rollback", "decision.forward_fix", "decision.timeout_rollback", "override.declared"}
)


def _span(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "not known"
    seconds = int((end - start) / timedelta(seconds=1))
    return f"{seconds // 60} min {seconds % 60} s"


def postmortem_draft(request: RollbackRequest, entries: list[dict[str, Any]]) -> PostmortemDraft:
    """Durations and timeline from the request's audit entries (as the evidence pack has them)."""
    timeline = [
        (datetime.fromisoformat(e["at"]), str(e.get("actor", {}).get("name", "")), str(e["action"]))
        for e in entries
    ]
    facts = facts_of(request, timeline)
    decided = next((at for at, _, action in timeline if action in DECISIONS), None)
    if facts.detected_at is None:
        detection = "not known (opened by a person; no alert time)"
    else:
        detection = _span(facts.detected_at, facts.opened_at)
    return PostmortemDraft(
        detection=detection,
        response=_span(facts.opened_at, decided),
        recovery=_span(facts.executed_at, facts.recovered_at or facts.executed_until),
        timeline=tuple(f"{at:%H:%M:%S} UTC · {actor} · {action}" for at, actor, action in timeline),
    )
