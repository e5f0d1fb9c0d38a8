"""Slack messages for outbox notices, one renderer per notice kind (`RENDER`): the card, its
timeline lines, summaries, reminders, pages and the post-mortem draft. Each reads the typed
payload the core wrote; none decides where a message goes or whom it mentions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from bot.domain.audit_words import OBLIGATIONS
from bot.domain.notices import (
    Escalation,
    Mentions,
    Notice,
    NoticeKind,
    NoticePayload,
    Page,
    PostmortemDraft,
    RecoveryCharts,
    Reminder,
    Summary,
    TimelineEntry,
    Undelivered,
)
from bot.domain.request import RollbackRequest
from bot.domain.severity import Severity
from handlers.blockkit.cards import Message, clip, escape, hm, request_card, section, state_label

_TIMELINE = {
    "request.opened": "opened the request: {reason}",
    "decision.prompted": "recommended {recommendation}",
    "decision.rollback": "chose to roll back",
    "decision.forward_fix": "chose a forward fix",
    "decision.timeout_rollback": "decided to roll back: nobody decided in time",
    "approval.given": "approved as {role}",
    "approval.denied": "denied as {role}: {reason}",
    "approval.lapsed": "approvals lapsed: the target moved from revision {was} to {now}",
    "plan.changed": "checked the target before rolling back: {reason}. Nothing was rolled back and the approvals lapsed; approve the updated plan on the card to go on.",
    "approval.retroactive": "approved retroactively as {role}",
    "override.declared": "declared an emergency override: {reason}",
    "execution.started": "started the rollback",
    "execution.succeeded": "rolled back to revision {to_revision}",
    "execution.failed": "rollback failed: {reason}",
    "execution.awaiting_review": "is waiting on {what} {link}: {why}",
    "verification.passed": "recovery verified: {summary}",
    "verification.failed": "recovery NOT verified: {reason}",
    "verification.skipped": "rolled back; recovery NOT verified: {summary}. Press Recovery confirmed on the card once you have seen the service work.",
    "request.cancelled": "cancelled the request: {reason}",
    "obligation.met": "recorded the {kind}: {evidence}",
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
    "addendum": ":page_facing_up: {what} added to the evidence pack as a signed addendum, sha256 `{sha256}`",
    "addendum_failed": ":warning: {what} could not be added to the evidence pack yet: {error}. rollbot tries again, every few minutes at first.",
}


# Timeline lines that speak for themselves, without "who did it" in front.
_UNSIGNED = {
    "announce",
    "escalate",
    "preserve",
    "progress",
    "evidence",
    "evidence_failed",
    "addendum",
    "addendum_failed",
    "alert",
    "recheck",
    "recheck_failed",
    "watch_closed",
    "resumed",
}


def mentions_text(mentions: Mentions) -> str:
    return " ".join(
        [f"<!subteam^{group}>" for group in mentions.groups]
        + [f"<@{user}>" for user in mentions.users]
    )


def timeline_text(entry: TimelineEntry, at: datetime) -> str:
    details = {k: escape(v) for k, v in entry.details.items()}
    if "kind" in details:  # an obligation kind, in words
        details["kind"] = OBLIGATIONS.get(details["kind"], details["kind"].replace("_", " "))
    if "role" in details:
        details["role"] = details["role"].replace("_", " ")
    template = _TIMELINE.get(entry.action, entry.action)
    try:
        what = template.format(**details)
    except KeyError:
        what = template
    who = "rollbot" if entry.actor_id in (None, "rollbot") else f"<@{entry.actor_id}>"
    if entry.action in _UNSIGNED:
        return f"{hm(at)} · {what}"
    return f"{hm(at)} · {who} {what}"


def summary_message(r: RollbackRequest, summary: Summary | None = None) -> Message:
    took = r.updated_at - r.created_at
    minutes = int(took.total_seconds() // 60)
    seconds = int(took.total_seconds() % 60)
    versions = f"revision {r.baseline_revision or '?'} → {r.to_revision or '—'}"
    text = (
        f"*{r.id} {state_label(r.state)}* · `{escape(r.target.label)}` · {versions} · "
        f"{minutes} min {seconds} s from request to end\n{escape(r.outcome or '')}"
    )
    if summary is not None and summary.evidence_sha256:
        text += f"\nEvidence pack sha256 `{summary.evidence_sha256}`"
    return {"text": f"{r.id}: {r.state.value}", "blocks": [section(text)]}


def reminder_message(r: RollbackRequest, reminder: Reminder, thread_link: str | None) -> Message:
    what = reminder.obligation.replace("_", " ")
    due = reminder.due
    hint = (
        f"Start from the <{thread_link}|post-mortem draft> in the request's thread."
        if thread_link
        else escape(reminder.hint)
    )
    text = (
        f":alarm_clock: *Overdue*: {what} for *{r.id}* `{escape(r.target.label)}` in <#{r.channel}> was due "
        f"{due:%Y-%m-%d} {hm(due)}. Meet it with `{reminder.how}`. "
        f"{hint} {mentions_text(reminder.mentions)}"
    ).rstrip()
    return {"text": f"Overdue: {what} for {r.id}", "blocks": [section(text)]}


def page_message(r: RollbackRequest, page: Page) -> Message:
    """P1 pages the VP of Engineering, P2 the engineering lead, P3 is announced for the incidents
    channel, P4 becomes a ticket note."""
    who = mentions_text(page.mentions)
    severity, pages = page.severity.value, page.pages
    if page.severity is Severity.P4:
        text = f":memo: {severity} {r.id}: no page; ticket note — fix in the next sprint (`{escape(r.target.label)}`)."
    elif page.severity is Severity.P3:
        text = f":information_source: {severity} {r.id} in <#{r.channel}>: `{escape(r.target.label)}` — for #incidents."
    else:
        text = f":rotating_light: {severity} declared, {r.id} in <#{r.channel}>: paging {pages} {who}".rstrip()
        if not who:
            text += f" (no {pages} in the policy's roles: page them by hand)"
    return {"text": f"{severity} {r.id}: {pages}", "blocks": [section(text)]}


def escalation_message(r: RollbackRequest, escalation: Escalation) -> Message:
    """A failed rollback, to the people who must take over, by name."""
    who = mentions_text(escalation.mentions) or f"(no {escalation.roles} in the policy's roles)"
    text = (
        f":rotating_light: *{r.id} needs a person now* · `{escape(r.target.label)}` in "
        f"<#{r.channel}>: {escape(escalation.reason)}. Paging {escalation.roles}: {who}. "
        "rollbot stopped and will not try again by itself."
    )
    return {"text": f"{r.id} needs a person: {escalation.reason}"[:300], "blocks": [section(text)]}


def postmortem_draft(r: RollbackRequest, draft: PostmortemDraft) -> Message:
    """The post-mortem, started: what rollbot recorded, and what people must add."""
    timeline = "\n".join(escape(line) for line in draft.timeline)
    facts = (
        f"*Detection*: {escape(draft.detection)} · "
        f"*Response* (request to decision): {escape(draft.response)} · "
        f"*Recovery* (rollback to recovery verified): {escape(draft.recovery)}"
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


_WHAT = {
    NoticeKind.REQUEST_OPENED: "the request card (with its approve and deny buttons)",
    NoticeKind.CARD_UPDATE: "an update of the request card",
    NoticeKind.PAGE: "the page",
    NoticeKind.REMINDER: "a reminder",
    NoticeKind.ESCALATION: "an escalation",
}
_CHANNEL_FIX = {
    "is_archived": "the channel is archived",
    "not_in_channel": "rollbot is not in the channel any more: invite @rollbot back",
    "channel_not_found": "rollbot cannot see the channel: it was deleted, or it is private "
    "and rollbot is not in it",
}


def undelivered_message(r: RollbackRequest, u: Undelivered) -> Message:
    """Slack refused a notice a person had to see: say what, where and why, and what stopped."""
    what = _WHAT.get(u.what, "messages")
    why = _CHANNEL_FIX.get(u.error, f"Slack answered `{escape(u.error)}`")
    text = (
        f":warning: *{r.id}* · `{escape(r.target.label)}`: Slack refused {what} in "
        f"<#{u.channel}>: {why}."
    )
    if u.channel_closed:
        text += (
            " Nothing automatic happens for this request while nobody can see its channel "
            "(no rollback on the decision timeout, no automatic execution). Follow it with "
            f"`/rollback status {r.id}`, and invite @rollbot back to the channel."
        )
    return {
        "text": f"{r.id}: Slack refused {what} in <#{u.channel}>"[:300],
        "blocks": [section(text)],
    }


Render = Callable[[Notice, str | None], Message]
P = TypeVar("P", bound=NoticePayload)


def _payload(notice: Notice, kind: type[P]) -> P:
    assert isinstance(notice.payload, kind), notice.kind
    return notice.payload


RENDER: dict[NoticeKind, Render] = {
    NoticeKind.REQUEST_OPENED: lambda n, _: request_card(n.request),
    NoticeKind.CARD_UPDATE: lambda n, _: request_card(n.request),
    NoticeKind.TIMELINE: lambda n, _: {"text": timeline_text(_payload(n, TimelineEntry), n.at)},
    NoticeKind.SUMMARY: lambda n, _: summary_message(n.request, _payload(n, Summary)),
    NoticeKind.REMINDER: lambda n, link: reminder_message(n.request, _payload(n, Reminder), link),
    NoticeKind.PAGE: lambda n, _: page_message(n.request, _payload(n, Page)),
    NoticeKind.POSTMORTEM_DRAFT: lambda n, _: postmortem_draft(
        n.request, _payload(n, PostmortemDraft)
    ),
    NoticeKind.ESCALATION: lambda n, _: escalation_message(n.request, _payload(n, Escalation)),
    NoticeKind.UNDELIVERED: lambda n, _: undelivered_message(n.request, _payload(n, Undelivered)),
    # the files go up through files.uploadV2; this is the comment they are shared with
    NoticeKind.RECOVERY_CHARTS: lambda n, _: {"text": _payload(n, RecoveryCharts).comment},
}


def render(notice: Notice, thread_link: str | None = None) -> Message:
    """The Slack message for a notice; `thread_link` is the permalink of the request's thread
    when the notice asked for one."""
    return RENDER[notice.kind](notice, thread_link)
