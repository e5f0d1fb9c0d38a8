"""Block Kit builders: pure functions from rollbot's objects to Slack message dicts."""

from __future__ import annotations

from typing import Any

from bot.domain.approvals import describe_roles
from bot.domain.request import RequestState, RollbackRequest

Message = dict[str, Any]

_STATE_LABEL = {
    RequestState.PROPOSED: ":large_yellow_circle: proposed",
    RequestState.AWAITING_DECISION: ":hourglass: awaiting decision",
    RequestState.FORWARD_FIX_CHOSEN: ":hammer_and_wrench: forward fix chosen",
    RequestState.AWAITING_APPROVAL: ":hourglass: awaiting approval",
    RequestState.APPROVED: ":white_check_mark: approved",
    RequestState.EXECUTING: ":arrows_counterclockwise: executing",
    RequestState.VERIFYING: ":mag: verifying",
    RequestState.COMPLETED: ":large_green_circle: completed",
    RequestState.FAILED: ":red_circle: failed",
    RequestState.DENIED: ":no_entry: denied",
    RequestState.CANCELLED: ":heavy_multiplication_x: cancelled",
}


def escape(text: str) -> str:
    """Neutralise Slack control sequences in user text: no pings, no spoofed links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def state_label(state: RequestState) -> str:
    return _STATE_LABEL[state]


def request_card(request: RollbackRequest) -> Message:
    a = request.assessment
    roles = (
        "auto-approved (on-call)" if request.auto_approved else describe_roles(request.needed_roles)
    )
    fields = [
        _mrkdwn(f"*Target*\n`{escape(request.target.label)}`"),
        _mrkdwn(f"*Severity*\n{a.severity.value} ({a.profile.label}) — {escape(a.reason)}"),
        _mrkdwn(f"*Requested by*\n<@{request.requester.id}>"),
        _mrkdwn(f"*State*\n{state_label(request.state)}"),
        _mrkdwn(f"*Rollback type*\n{request.rollback_type.value.replace('_', ' ')}"),
        _mrkdwn(f"*Approval*\n{roles}"),
    ]
    if request.to_revision:
        fields.append(_mrkdwn(f"*To revision*\n{escape(request.to_revision)}"))
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Rollback request {request.id}"},
        },
        {"type": "section", "block_id": "summary", "fields": fields},
        _section(f"*Reason*\n{escape(request.reason)}"),
    ]
    if request.ticket:
        blocks.append(_section(f"*Ticket*\n{escape(request.ticket)}"))
    blocks.append(
        {
            "type": "context",
            "elements": [
                _mrkdwn(
                    f"Decision SLA {int(a.decision_sla.total_seconds() // 3600)} h · pages {a.pages} · "
                    f"opened {request.created_at:%Y-%m-%d %H:%M} UTC"
                )
            ],
        }
    )
    text = f"Rollback request {request.id}: {request.target.label} ({a.severity.value}) — {state_label(request.state)}"
    return {"text": text, "blocks": blocks}


def ephemeral(text: str) -> Message:
    return {"response_type": "ephemeral", "text": text}


def opened_ack(request: RollbackRequest, created: bool) -> Message:
    if created:
        return ephemeral(
            f"Rollback request {request.id} opened for `{escape(request.target.label)}`."
        )
    return ephemeral(f"Rollback request {request.id} already exists for this command.")


def status_reply(request: RollbackRequest) -> Message:
    return ephemeral(
        f"*{request.id}* `{escape(request.target.label)}` — {state_label(request.state)} "
        f"({request.assessment.severity.value}), requested by <@{request.requester.id}>"
    )


def list_reply(requests: list[RollbackRequest]) -> Message:
    if not requests:
        return ephemeral("No open rollback requests in this channel.")
    lines = [
        f"• *{r.id}* `{escape(r.target.label)}` — {state_label(r.state)} ({r.assessment.severity.value})"
        for r in requests
    ]
    return ephemeral("*Open rollback requests*\n" + "\n".join(lines))
