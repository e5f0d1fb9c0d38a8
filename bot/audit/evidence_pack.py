"""Evidence packs (the rollback runbook "Create evidence pack", the SOC 2 rollback and recovery procedures "Evidence Your Auditor Expects").

Pure: given the request, its audit timeline and the before/after captures, build manifest.json,
a diff and a deterministic tar.gz (same inputs, same bytes, same sha256).
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.policy import Role
from bot.domain.request import RollbackRequest

# The database executor's record of its steps, among the pack's readable files.
DATABASE_FILE = "database-rollback.json"

_EPOCH = 0  # fixed mtimes keep the pack reproducible


def _json(obj: Any) -> bytes:
    return (
        json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    ).encode()


def _blank(value: Any) -> bool:
    return value is None or value == {} or value == []


def _comparable(side: Any, other: Any) -> Any:
    """`side` without the blanks the other side lacks: a field one API answer writes as null or
    {} and another leaves out says the same thing, and must not read as a change."""
    if isinstance(side, dict):
        twin = other if isinstance(other, dict) else {}
        return {
            k: _comparable(v, twin.get(k))
            for k, v in side.items()
            if not (_blank(v) and _blank(twin.get(k)))
        }
    if isinstance(side, list) and isinstance(other, list) and len(side) == len(other):
        return [_comparable(v, o) for v, o in zip(side, other, strict=True)]
    return side


def json_diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    a = _json(_comparable(before, after)).decode().splitlines(keepends=True)
    b = _json(_comparable(after, before)).decode().splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, "before.json", "after.json")) or "no difference\n"


# Audit actions that settle whether the rollback goes ahead, in the order they can happen.
DECIDING = ("decision.rollback", "decision.timeout_rollback", "approval.given", "request.opened")


def decision_at(timeline: Sequence[Mapping[str, Any]]) -> str | None:
    """When the rollback was decided: a person's (or the timeout's) choice, else the approval
    that completed it, else the opening of an auto-approved request."""
    for action in DECIDING:
        hits = [e for e in timeline if e.get("action") == action]
        if hits:
            return str(hits[-1 if action == "approval.given" else 0].get("at"))
    return None


def verification_checks(
    request: RollbackRequest, timeline: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Each check with the time it ran, its result, and where its output is."""
    checks: list[dict[str, Any]] = []
    for entry in timeline:
        action = str(entry.get("action", ""))
        if not action.startswith("verification."):
            continue
        payload = entry.get("payload") or {}
        ran = {
            "at": entry.get("at"),
            "step": action.removeprefix("verification."),
            "result": payload.get("summary") or payload.get("reason") or action,
            "output": f"timeline.json, audit entry {entry.get('seq')}",
        }
        if action in ("verification.passed", "verification.failed", "verification.skipped"):
            ran["checks"] = dict(request.verification)
            if request.verification.get("metrics", "not configured") != "not configured":
                # the pack is sealed before the watch ends; the charts come as an addendum
                ran["charts"] = (
                    "recovery/<check>.png in the recovery addendum beside this pack "
                    f"({request.id}/addenda/recovery-<time>/), added when the watch ends"
                )
        checks.append(ran)
    return checks


def manifest(
    request: RollbackRequest,
    *,
    timeline: list[dict[str, Any]],
    from_version: str | None,
    files: Sequence[str] = (),
    gaps: Sequence[str] = (),
    database: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The runbook's fields first, then what rollbot adds for the auditor."""
    a = request.assessment
    decided = decision_at(timeline)
    found: dict[str, Any] = {
        # the runbook's "Create rollback manifest" fields
        "rollback_id": request.id,
        "timestamp": request.updated_at.isoformat(),
        "component": request.target.label,
        "from_version": from_version or request.baseline_revision,
        "to_version": request.to_revision,
        # what those revisions run, as people know them (a Deployment's images)
        "from_image": request.baseline_identity,
        "to_image": request.to_identity,
        "reason": request.reason,
        "approver": [a.by.id for a in request.approvals]
        or (["auto-approved:on_call"] if request.auto_approved else []),
        "incident_id": request.incident_id,
        "verification": _verification(request, timeline),
        # rollbot's own
        "state": request.state.value,
        "requester": request.requester.model_dump(),
        "approvals": _approvals(request.approvals),
        "retroactive_approvals": _approvals(request.retro_approvals),
        "decision": {**_decision(request), "at": decided},
        "severity": {
            "class": a.severity.value,
            "computed": a.computed.value,
            "reason": a.reason,
            "override": a.override.model_dump() if a.override else None,
        },
        "emergency_override": request.override.model_dump(mode="json")
        if request.override
        else None,
        "obligations": [o.model_dump(mode="json") for o in request.obligations],
        "security_implications": list(request.security_implications),
        "links": {"ticket": request.ticket, "decided_at": decided},
        # the runbook's readable forms beside the JSON, and what could not be captured
        "files": sorted(files),
        "capture_gaps": list(gaps),
        "rollback_type": request.rollback_type.value,
        "timeline": timeline,
    }
    if database is not None:  # the runbook's database rollback fields
        found["database"] = database_fields(request, database)
    return found


def database_fields(request: RollbackRequest, measured: Mapping[str, Any]) -> dict[str, Any]:
    """The runbook's database rollback evidence: what the executor measured (migration
    reverted, backup location and sha256, data loss, downtime), and who approved, the DBA's
    approval by name."""
    return {
        **measured,
        "approver": [a.by.id for a in request.approvals],
        "dba_approval": [
            {"by": a.by.id, "at": a.at.isoformat()}
            for a in (*request.approvals, *request.retro_approvals)
            if a.role == Role.DBA
        ],
    }


def _verification(request: RollbackRequest, timeline: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "health_check": request.verification.get("health_check", "not configured"),
        "smoke_tests": request.verification.get("smoke_tests", "not configured"),
        "metrics": request.verification.get("metrics", "not configured"),
        "user_validation": request.verification.get("user_validation", "pending"),
        "result": request.outcome,
        "checks": verification_checks(request, timeline),
    }


def _approvals(given: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"by": x.by.model_dump(), "role": x.role.value, "at": x.at.isoformat()} for x in given]


def _decision(request: RollbackRequest) -> dict[str, Any]:
    """Who chose rollback or forward fix, and the branch of the decision tree that recommended."""
    recommendation = request.recommendation
    return {
        "chosen": request.decision.value if request.decision else None,
        "by": request.decided_by.model_dump() if request.decided_by else None,
        "recommendation": recommendation.action.value if recommendation else None,
        "tree_path": [s.model_dump() for s in recommendation.path] if recommendation else [],
    }


@dataclass(frozen=True)
class EvidencePack:
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _database_measured(readable: Mapping[str, str] | None) -> Mapping[str, Any] | None:
    text = (readable or {}).get(DATABASE_FILE)
    if text is None:
        return None
    try:
        found = json.loads(text)
    except json.JSONDecodeError:
        return {"unreadable": "the database steps' record was not JSON"}
    return found if isinstance(found, dict) else None


def build_pack(
    request: RollbackRequest,
    *,
    timeline: list[dict[str, Any]],
    before: dict[str, Any],
    after: dict[str, Any],
    readable: Mapping[str, str] | None = None,
    gaps: Sequence[str] = (),
) -> EvidencePack:
    files = {
        "before.json": _json(before),
        "after.json": _json(after),
        "diff.txt": json_diff(before, after).encode(),
        "timeline.json": _json(timeline),
        **{name: text.encode() for name, text in (readable or {}).items()},
    }
    files["manifest.json"] = _json(
        manifest(
            request,
            timeline=timeline,
            from_version=request.baseline_revision,
            files=list(files),
            gaps=gaps,
            database=_database_measured(readable),
        )
    )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(f"{request.id}/{name}")
            info.size, info.mtime, info.mode = len(files[name]), _EPOCH, 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    packed = gzip.compress(raw.getvalue(), mtime=_EPOCH)
    return EvidencePack(name=f"{request.id}/evidence-{request.id}.tar.gz", data=packed)
