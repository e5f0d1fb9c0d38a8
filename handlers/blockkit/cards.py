"""Block Kit builders: pure functions from rollbot's objects to Slack message dicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.approvals import describe_roles
from bot.domain.events import ObligationKind
from bot.domain.request import RequestState, RollbackRequest
from handlers.slack.ids import ActionId, BlockId, CallbackId, CardAction

Message = dict[str, Any]
S = RequestState

_STATE_LABEL = {
    S.PROPOSED: ":large_yellow_circle: proposed",
    S.AWAITING_DECISION: ":hourglass: awaiting decision",
    S.FORWARD_FIX_CHOSEN: ":hammer_and_wrench: forward fix chosen",
    S.AWAITING_APPROVAL: ":hourglass: awaiting approval",
    S.APPROVED: ":white_check_mark: approved",
    S.EXECUTING: ":arrows_counterclockwise: executing",
    S.VERIFYING: ":mag: verifying",
    S.COMPLETED: ":large_green_circle: completed",
    S.RECOVERY_UNVERIFIED: ":large_orange_circle: rolled back, recovery NOT verified",
    S.AWAITING_RECOVERY_CONFIRMATION: ":hourglass: rolled back, waiting for a person to confirm recovery",
    S.FAILED: ":red_circle: failed",
    S.DENIED: ":no_entry: denied",
    S.CANCELLED: ":heavy_multiplication_x: cancelled",
}


def escape(text: str) -> str:
    """Neutralise Slack control sequences in user text: no pings, no spoofed links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Slack refuses section text over 3000 characters. User text is refused earlier when too long;
# what rollbot itself generates (executor errors) is cut here, visibly, never silently.
SECTION_LIMIT = 3000
CUT_MARK = " … (cut; the full text is in the audit log)"


def clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT_MARK)] + CUT_MARK


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": mrkdwn(clip(text))}
    if block_id:
        block["block_id"] = block_id
    return block


def hm(at: datetime) -> str:
    return f"{at:%H:%M} UTC"


def _button(
    text: str,
    action: ActionId,
    card: CardAction,
    style: str | None = None,
    confirm: str | None = None,
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action.value,
        "value": card.encode(),
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = {
            "title": {"type": "plain_text", "text": "Are you sure?"},
            "text": mrkdwn(confirm),
            "confirm": {"type": "plain_text", "text": text},
            "deny": {"type": "plain_text", "text": "Back"},
        }
    return button


def state_label(state: RequestState) -> str:
    return _STATE_LABEL[state]


def _summary_fields(r: RollbackRequest) -> list[dict[str, str]]:
    a = r.assessment
    override = f" (computed {a.computed.value})" if a.override else ""
    revisions = f"{r.baseline_revision or '?'} → {r.to_revision or 'previous'}"
    return [
        mrkdwn(f"*Severity*\n{a.severity.value} {a.profile.label}{override} — {escape(a.reason)}"),
        mrkdwn(f"*State*\n{state_label(r.state)}"),
        mrkdwn(f"*Requested by*\n<@{r.requester.id}>"),
        mrkdwn(
            f"*Decision SLA*\n{int(a.decision_sla.total_seconds() // 3600)} h · pages {a.pages}"
        ),
        mrkdwn(f"*Type*\n{r.rollback_type.value.replace('_', ' ')}"),
        mrkdwn(f"*Revision*\n{escape(revisions)}"),
    ]


def _decision_blocks(r: RollbackRequest, card: CardAction) -> list[dict[str, Any]]:
    if r.recommendation is None:
        return []
    reco = r.recommendation
    blocks = [
        section(
            f"*Recommendation: {reco.action.label}* — {escape(reco.reason)}\n```{reco.render_path()}```",
            BlockId.DECISION,
        )
    ]
    if r.state is S.AWAITING_DECISION:
        when = (
            f"Automatic rollback at {hm(r.decision_deadline)} if nobody decides (the incident response standard allows 30 minutes)."
            if r.decision_deadline
            else "Automatic rollback on timeout is off for this service."
        )
        blocks.append({"type": "context", "elements": [mrkdwn(when)]})
        blocks.append(
            {
                "type": "actions",
                "block_id": BlockId.CONTROLS,
                "elements": [
                    _button("Roll back", ActionId.CHOOSE_ROLLBACK, card, "primary"),
                    _button("Forward fix", ActionId.CHOOSE_FORWARD_FIX, card),
                    _button("Emergency override", ActionId.OVERRIDE, card, "danger"),
                    _button("Cancel request", ActionId.CANCEL, card),
                ],
            }
        )
    return blocks


def _approval_lines(r: RollbackRequest) -> str:
    if r.auto_approved:
        return "auto-approved: requested by the on-call engineer (runbook matrix)"
    given = {a.role: a for a in r.approvals}
    lines = []
    for role in r.needed_roles:
        a = given.get(role)
        name = role.value.replace("_", " ")
        lines.append(
            f":white_check_mark: {name}: <@{a.by.id}> at {hm(a.at)}" if a else f":hourglass: {name}"
        )
    return "\n".join(lines) or "nothing further"


def _security_section(r: RollbackRequest) -> dict[str, Any]:
    lines = "\n".join(f"• {escape(item)}" for item in r.security_implications)
    return section(
        f":lock: *Security review* — this rollback touches authentication or authorisation:\n{lines}"
    )


def _approval_blocks(r: RollbackRequest, card: CardAction) -> list[dict[str, Any]]:
    shown = (S.AWAITING_APPROVAL, S.APPROVED, S.EXECUTING, S.VERIFYING, S.COMPLETED)
    if r.state not in shown and not r.state.waits_for_a_person:
        return []
    blocks = [_security_section(r)] if r.security_implications else []
    if r.plan_changed and r.state is S.AWAITING_APPROVAL:
        blocks.append(
            section(
                f":warning: *The plan changed after it was approved*: {escape(r.plan_changed)}. "
                "Nothing was rolled back. Approve the plan as it stands now, or deny it."
            )
        )
    blocks += [
        section(
            f"*Approvals* — needs {describe_roles(r.needed_roles)}\n{_approval_lines(r)}",
            BlockId.APPROVALS,
        )
    ]
    if r.override:
        retro = r.obligation_due("retro_approval")
        blocks.append(
            section(
                f":rotating_light: *Emergency override* by <@{r.override.by.id}> at {hm(r.override.at)}: "
                f"{escape(r.override.reason)}"
                + (f"\nRetroactive approval due {hm(retro)}." if retro else "")
            )
        )
    if r.state is S.AWAITING_APPROVAL:
        target = escape(r.target.label)
        elements = [
            _button(
                "Approve", ActionId.APPROVE, card, "primary", f"Approve rolling back `{target}`?"
            ),
            _button("Deny", ActionId.DENY, card, "danger"),
        ]
        if r.override is None and r.assessment.severity.rank == 1:
            elements.append(_button("Emergency override", ActionId.OVERRIDE, card))
        elements.append(_button("Cancel request", ActionId.CANCEL, card))
        blocks.append({"type": "actions", "block_id": BlockId.CONTROLS, "elements": elements})
    return blocks


def _follow_up_blocks(r: RollbackRequest, card: CardAction) -> list[dict[str, Any]]:
    """Customers told (the incident response standard) and recovery seen by a person (the rollback runbook): who, when, and
    the buttons that record them."""
    lines: list[str] = []
    buttons: list[dict[str, Any]] = []
    notify = r.obligation(ObligationKind.CUSTOMER_NOTIFICATION)
    if notify is not None and notify.met_at is not None and notify.met_by is not None:
        lines.append(
            f":white_check_mark: *Customers notified* by <@{notify.met_by.id}> at {hm(notify.met_at)}: "
            f"{escape(notify.evidence or '')}"
        )
    elif notify is not None:
        lines.append(f":hourglass: *Customers* must be notified by {hm(notify.due)}")
        buttons.append(_button("Customers notified", ActionId.CUSTOMERS_NOTIFIED, card))
    if r.verification:
        checks = "\n".join(
            f"• {name.replace('_', ' ')}: {escape(result)}"
            for name, result in r.verification.items()
        )
        lines.append(f"*Recovery checks*\n{checks}")
    if r.watch_until is not None and r.state in (S.COMPLETED, S.AWAITING_RECOVERY_CONFIRMATION):
        every = int(r.rules.deadlines.watch_interval.total_seconds() // 60)
        lines.append(
            f":eyes: Recovery watched until {hm(r.watch_until)}, re-checked every {every} min"
        )
    if r.state is S.AWAITING_RECOVERY_CONFIRMATION:
        lines.append(
            ":warning: *Top severity: not closed until a person confirms recovery.* Check that "
            "users are served again (a real user's word, not only the checks), then press "
            "Recovery confirmed."
        )
    if r.state is S.RECOVERY_UNVERIFIED or (
        r.state is S.AWAITING_RECOVERY_CONFIRMATION and r.watch_until is None
    ):
        lines.append(
            ":warning: *Recovery is not verified*: no health checks, smoke tests or metrics are "
            "configured for this service. Look at the service, then press Recovery confirmed."
        )
    asks = r.state is S.COMPLETED or r.state.waits_for_a_person
    if asks and "user_validation" not in r.verification:
        buttons.append(_button("Recovery confirmed", ActionId.CONFIRM_RECOVERY, card, "primary"))
    blocks: list[dict[str, Any]] = [section("\n".join(lines))] if lines else []
    if buttons:
        blocks.append({"type": "actions", "block_id": BlockId.FOLLOW_UP, "elements": buttons})
    return blocks


def _known_bad_section(why: str) -> dict[str, Any]:
    return section(
        f":warning: *Back into a version rolled back from*: {escape(why)}. It needs the "
        "older-version approval, and rollbot never rolls it back by itself (no automatic "
        "rollback when nobody decides)."
    )


def request_card(r: RollbackRequest) -> Message:
    card = CardAction(request_id=r.id, version=r.version)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Rollback {r.id} · {r.target.label}"[:150]},
        },
        {"type": "section", "block_id": BlockId.SUMMARY, "fields": _summary_fields(r)},
        section(f"*Reason*\n{escape(r.reason)}"),
        *([section(f"*What changes*\n{escape(r.preflight)}")] if r.preflight else []),
        *(
            [section(f"*Waiting on*\n{escape(r.waiting_on)}")]
            if r.waiting_on and r.state is RequestState.EXECUTING
            else []
        ),
        *([_known_bad_section(r.known_bad)] if r.known_bad and r.state.is_open else []),
        *(
            [section(f"*Last rehearsed*\n{escape(r.last_drill)}")]
            if r.last_drill and r.state.is_open
            else []
        ),
        *_decision_blocks(r, card),
        *_approval_blocks(r, card),
    ]
    if r.outcome:
        blocks.append(section(f"*Outcome*\n{escape(r.outcome)}"))
    blocks += _follow_up_blocks(r, card)
    context = [
        f"Opened {r.created_at:%Y-%m-%d} {hm(r.created_at)}",
        f"incident {r.incident_id or '—'}",
    ]
    if r.ticket:
        context.append(f"ticket {escape(r.ticket)}")
    if r.origin_channel:
        context.append(f"asked in <#{r.origin_channel}>")
    blocks.append({"type": "context", "elements": [mrkdwn(" · ".join(context))]})
    text = f"Rollback {r.id}: {r.target.label} ({r.assessment.severity.value}) — {state_label(r.state)}"
    return {"text": text, "blocks": blocks}


def ephemeral(text: str) -> Message:
    return {"response_type": "ephemeral", "text": text}


def opened_ack(r: RollbackRequest, created: bool) -> Message:
    where = f" in <#{r.channel}>" if r.origin_channel else ""
    if created:
        return ephemeral(f"Rollback request {r.id} opened for `{escape(r.target.label)}`{where}.")
    return ephemeral(f"Rollback request {r.id} already exists for this command{where}.")


def _line(r: RollbackRequest) -> str:
    return f"• *{r.id}* `{escape(r.target.label)}` — {state_label(r.state)} ({r.assessment.severity.value})"


def _outline(r: RollbackRequest) -> str:
    """Only what anyone may know of a request: its id, its state and where it lives."""
    return f"• *{r.id}* — {state_label(r.state)} · details in <#{r.channel}>"


def status_reply(r: RollbackRequest, details: bool = True) -> Message:
    if not details:
        return ephemeral(_outline(r))
    return ephemeral(f"{_line(r)}, requested by <@{r.requester.id}> in <#{r.channel}>")


def list_reply(requests: list[RollbackRequest]) -> Message:
    if not requests:
        return ephemeral("No open rollback requests in this channel.")
    return ephemeral("*Open rollback requests*\n" + "\n".join(_line(r) for r in requests))


def history_reply(target: str, requests: list[tuple[RollbackRequest, bool]]) -> Message:
    """Each request with its details where the asker may see them, else its outline."""
    if not requests:
        return ephemeral(f"No rollback requests for `{escape(target)}` yet.")
    lines = [
        f"{_line(r)} · {r.created_at:%Y-%m-%d %H:%M} · {escape(r.outcome or '')}"
        if details
        else _outline(r)
        for r, details in requests
    ]
    return ephemeral(f"*Rollback history of `{escape(target)}`*\n" + "\n".join(lines))


def reason_modal(callback: CallbackId, card: CardAction, title: str, prompt: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback.value,
        "private_metadata": card.encode(),
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": "Submit"},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": [
            {
                "type": "input",
                "block_id": BlockId.REASON,
                "label": {"type": "plain_text", "text": prompt},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": 1000,
                },
            }
        ],
    }
