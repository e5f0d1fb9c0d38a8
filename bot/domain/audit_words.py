"""An audit entry in words, for the auditor's page: "post-mortem recorded by dave:
https://…", not "obligation.met". Pure: the action, who acted and the entry's payload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# What each obligation is called, in the words of the standards that set it.
OBLIGATIONS = {
    "post_mortem": "post-mortem",
    "retro_approval": "retroactive approval",
    "emergency_written_approval": "written approval of the emergency change",
    "post_emergency_review": "post-emergency review",
    "decision_sla": "decision within the severity's SLA",
    "customer_notification": "customer notification",
    "recovery_confirmation": "confirmation that the service works",
}

_WORDS = {
    "request.opened": "{actor} opened the request ({severity}, {target}): {reason}",
    "request.cancelled": "{actor} cancelled the request: {reason}",
    "decision.prompted": "rollbot recommended {recommendation}",
    "decision.rollback": "{actor} chose to roll back, as {role}",
    "decision.forward_fix": "{actor} chose a forward fix, as {role}",
    "decision.timeout_rollback": "rollbot decided to roll back: nobody decided in time",
    "approval.given": "{actor} approved as {role}",
    "approval.denied": "{actor} denied as {role}: {reason}",
    "approval.lapsed": "the approvals lapsed: the target moved from revision {was} to {now}",
    "approval.retroactive": "{actor} approved retroactively as {role}",
    "override.declared": "{actor} declared an emergency override: {reason}",
    "plan.changed": "rollbot found the target changed before rolling back: {reason}",
    "execution.started": "rollbot started the rollback",
    "execution.change_sent": "rollbot sent the change to {target}",
    "execution.succeeded": "rollbot rolled back to revision {to_revision}",
    "execution.failed": "the rollback failed: {reason}",
    "execution.resumed": "rollbot restarted and followed the rollback to its end",
    "verification.passed": "recovery verified: {summary}",
    "verification.failed": "recovery not verified: {reason}",
    "verification.skipped": "rolled back; recovery not verified: {summary}",
    "verification.recheck": "recovery re-check {number} passed: {summary}",
    "verification.recheck_failed": "recovery re-check {number} failed after the watch: {summary}",
    "verification.drifted": "recovery drifted within the watch: {reason}",
    "verification.watch_closed": "the watch ended: recovery held for {minutes} minutes",
    "recovery.confirmed": "{actor} confirmed the service works again",
    "obligation.met": "{obligation} recorded by {actor}: {evidence}",
    "evidence.packed": "evidence pack stored, sha256 {sha256}",
    "evidence.upload_failed": "the evidence pack could not be stored yet: {error}",
    "evidence.addendum": "{kind} addendum added to the evidence pack, sha256 {sha256}",
    "evidence.addendum_failed": "the {kind} addendum could not be stored: {error}",
    "alert.resolved": "Alertmanager: {alertname} resolved",
}


class _Known(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def in_words(action: str, actor: str, payload: Mapping[str, Any]) -> str:
    values = _Known({k: str(v).replace("_", " ") for k, v in payload.items()})
    for kept in ("reason", "evidence", "target", "sha256", "summary", "error"):
        if kept in payload:  # said as given: links, ids and hashes keep their underscores
            values[kept] = str(payload[kept])
    values["actor"] = actor
    values["obligation"] = OBLIGATIONS.get(str(payload.get("kind")), values["kind"])
    template = _WORDS.get(action)
    if template is None:
        return f"{actor}: {action.replace('.', ' ').replace('_', ' ')}"
    return template.format_map(values)
