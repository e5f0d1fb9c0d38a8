"""Slack messages for outbox notices: timeline lines, summaries, reminders, pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.request import RollbackRequest
from handlers.blockkit.cards import Message, clip, escape, hm, section, state_label

_TIMELINE = {
    "request.opened": "opened the request: {reason}",
    "decision.prompted": "recommended {recommendation}",
    "decision.rollback": "chose to roll back",
    "decision.forward_fix": "chose a forward fix",
    "decision.timeout_rollback": "decided to roll back: nobody decided in time",
    "approval.given": "approved as {role}",
    "approval.denied": "denied as {role}: {reason}",
    "approval.lapsed": "approvals lapsed: the target moved from revision {was} to {now}",
    "approval.retroactive": "approved retroactively as {role}",
    "override.declared": "declared an emergency override: {reason}",
    "execution.started": "started the rollback",
    "execution.succeeded": "rolled back to revision {to_revision}",
    "execution.failed": "rollback failed: {reason}",
    "verification.passed": "recovery verified: {summary}",
    "verification.failed": "recovery NOT verified: {reason}",
    "request.cancelled": "cancelled the request: {reason}",
    "obligation.met": "met {kind}: {evidence}",
    "recovery.confirmed": "confirmed the service works again (user validation)",
    "verification.drifted": "found recovery drifting within the watch window: {reason}",
    "recheck": "recovery re-check {number} passed: {summary}",
    "recheck_failed": ":warning: recovery re-check {number} FAILED after the watch window: {summary}. Check the service; rollbot does not act on it.",
    "resumed": ":arrows_counterclockwise: rollbot restarted while this rollback was {state}; following it to its end (never a second rollback)",
    "watch_closed": ":white_check_mark: Watch window closed: recovery held for {minutes} minutes ({rechecks} re-checks).",
    "announce": ":rotating_light: Automatic rollback starting: {reason}",
    "escalate": ":rotating_light: Escalation — {reason}. Rollbot stopped; a human must take over.",
    "preserve": "State preserved as it is for investigation; no automatic second try.",
    "progress": "{line}",
    "alert": ":rotating_light: Alertmanager: {alertname} {status}",
    "evidence": ":package: Evidence pack stored, sha256 `{sha256}`",
    "evidence_failed": ":warning: Evidence pack not stored yet ({error}); rollbot keeps retrying.",
}


# Timeline lines that speak for themselves, without "who did it" in front.
_UNSIGNED = {
    "announce",
    "escalate",
    "preserve",
    "progress",
    "evidence",
    "evidence_failed",
    "alert",
    "recheck",
    "recheck_failed",
    "watch_closed",
    "resumed",
}


def timeline_text(data: dict[str, Any], at: datetime) -> str:
    details = {k: escape(str(v)) for k, v in (data.get("details") or {}).items()}
    if "kind" in details:  # an obligation kind, in words
        details["kind"] = details["kind"].replace("_", " ")
    template = _TIMELINE.get(str(data.get("action")), str(data.get("action")))
    try:
        what = template.format(**details)
    except KeyError:
        what = template
    actor = data.get("actor_id")
    who = "rollbot" if actor in (None, "rollbot") else f"<@{actor}>"
    if data.get("action") in _UNSIGNED:
        return f"{hm(at)} · {what}"
    return f"{hm(at)} · {who} {what}"


def summary_message(r: RollbackRequest, data: dict[str, Any] | None = None) -> Message:
    took = r.updated_at - r.created_at
    minutes = int(took.total_seconds() // 60)
    seconds = int(took.total_seconds() % 60)
    versions = f"revision {r.baseline_revision or '?'} → {r.to_revision or '—'}"
    text = (
        f"*{r.id} {state_label(r.state)}* · `{escape(r.target.label)}` · {versions} · "
        f"{minutes} min {seconds} s from request to end\n{escape(r.outcome or '')}"
    )
    evidence = (data or {}).get("evidence")
    if evidence:
        text += f"\nEvidence pack sha256 `{evidence}`"
    return {"text": f"{r.id}: {r.state.value}", "blocks": [section(text)]}


def _hint(data: dict[str, Any]) -> str:
    link = data.get("draft_link")
    if link:
        return f"Start from the <{link}|post-mortem draft> in the request's thread."
    return escape(str(data.get("hint") or ""))


def reminder_message(r: RollbackRequest, data: dict[str, Any]) -> Message:
    what = str(data.get("obligation", "")).replace("_", " ")
    due = datetime.fromisoformat(str(data["due"]))
    mention = str(data.get("mention") or "")
    text = (
        f":alarm_clock: *Overdue*: {what} for *{r.id}* `{escape(r.target.label)}` in <#{r.channel}> was due "
        f"{due:%Y-%m-%d} {hm(due)}. Meet it with `{data.get('how', '')}`. "
        f"{_hint(data)} {mention}"
    ).rstrip()
    return {"text": f"Overdue: {what} for {r.id}", "blocks": [section(text)]}


def page_message(r: RollbackRequest, data: dict[str, Any]) -> Message:
    """Seed 001 §1: P1 pages the VP of Engineering, P2 the engineering lead, P3 goes to
    #incidents, P4 becomes a ticket note."""
    who = " ".join(
        ([f"<!subteam^{data['usergroup']}>"] if data.get("usergroup") else [])
        + [f"<@{u}>" for u in data.get("users") or []]
    )
    severity, pages = data.get("severity"), data.get("pages")
    if severity == "P4":
        text = f":memo: {severity} {r.id}: no page; ticket note — fix in the next sprint (`{escape(r.target.label)}`)."
    elif severity == "P3":
        text = f":information_source: {severity} {r.id} in <#{r.channel}>: `{escape(r.target.label)}` — for #incidents."
    else:
        text = f":rotating_light: {severity} declared, {r.id} in <#{r.channel}>: paging {pages} {who}".rstrip()
        if not who:
            text += f" (no {pages} in the policy's roles: page them by hand)"
    return {"text": f"{severity} {r.id}: {pages}", "blocks": [section(text)]}


def postmortem_draft(r: RollbackRequest, data: dict[str, Any]) -> Message:
    """Seed 004's post-mortem, started: what rollbot recorded, and what people must add."""
    timeline = "\n".join(escape(str(line)) for line in data.get("timeline") or [])
    facts = (
        f"*Detection*: {escape(str(data.get('detection')))} · "
        f"*Response* (request to decision): {escape(str(data.get('response')))} · "
        f"*Recovery* (rollback to recovery verified): {escape(str(data.get('recovery')))}"
    )
    text = f"Post-mortem draft — {r.id}"
    return {
        "text": text,
        "blocks": [
            section(
                f"*{text}* · `{escape(r.target.label)}` · {r.assessment.severity.value}\n{facts}"
            ),
            section(clip(f"*Timeline*\n```{timeline or 'no entries'}```")),
            section(
                "*Impact* (fill in): customers affected: _?_ · duration seen by customers: _?_ · "
                "data affected: _?_ · revenue or SLA impact: _?_"
            ),
            section(
                "*Root cause* (fill in): _?_\n*Action items* (owner, due date): _?_\n"
                f"When it is written: `/rollback postmortem {r.id} <link>` (due in 48 h)."
            ),
        ],
    }
