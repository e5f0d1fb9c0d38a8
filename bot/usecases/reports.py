"""Reports for teams and auditors, built from the requests and their audit entries."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.acts import check_report_channel
from bot.domain.audit_words import in_words
from bot.domain.policy import ReportingPolicy
from bot.domain.reporting import Month, MonthlyReport, RollbackFacts, monthly_report
from bot.domain.request import RollbackRequest
from bot.domain.rollback_tests import rollback_test_rows, rollback_tests
from bot.ports import Clock, EvidenceStore, EvidenceStoreError, RoleDirectory
from bot.store.uow import UnitOfWork


@dataclass(frozen=True)
class IncidentDetail:
    """What the auditor page shows of one request."""

    request: RollbackRequest
    facts: RollbackFacts
    timeline: list[tuple[datetime, str, str]]  # at, actor, action
    evidence_sha256: str | None
    # the newest recovery charts of its evidence addenda, PNG bytes by chart name
    recovery_charts: dict[str, bytes] = field(default_factory=dict)
    # the timeline in words, for people: at, what happened
    story: list[tuple[datetime, str]] = field(default_factory=list)


@dataclass(frozen=True)
class AuditorReport:
    report: MonthlyReport
    incidents: list[IncidentDetail]
    audit_head: str
    audit_seq: int
    last_checkpoint: int | None
    made_at: datetime
    deployments: int | None = None
    charts: dict[str, bytes] = field(default_factory=dict)


def facts_of(request: RollbackRequest, entries: list[tuple[datetime, str, str]]) -> RollbackFacts:
    first: dict[str, datetime] = {}
    for at, _, action in entries:
        first.setdefault(action, at)
    finished = first.get("execution.succeeded") or first.get("execution.failed")
    # Recovered when a check proved it, or, where no check was configured, when a person did.
    recovered = first.get("verification.passed")
    if recovered is None and "verification.skipped" in first:
        recovered = first.get("recovery.confirmed")
    return RollbackFacts(
        request_id=request.id,
        incident_id=request.incident_id,
        target=request.target.label,
        severity=request.assessment.severity,
        opened_at=request.created_at,
        detected_at=request.detected_at,
        state=request.state.value,
        executed_at=first.get("execution.started"),
        executed_until=finished,
        recovered_at=recovered,
        emergency=request.override is not None,
        obligations=request.obligations,
        kind="database" if request.database_plan is not None else request.target.kind,
    )


class ReportService:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        roles: RoleDirectory | None = None,
        reporting: ReportingPolicy | None = None,
        evidence: EvidenceStore | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._roles = roles
        self._reporting = reporting or ReportingPolicy()
        self._evidence = evidence

    async def _charts(self, request_id: str) -> dict[str, bytes]:
        """The recovery charts of the request's newest recovery addendum; none when the store
        has none or cannot be read (the page then says so)."""
        if self._evidence is None:
            return {}
        try:
            names = await self._evidence.names(f"{request_id}/addenda")
            pictures = [
                n
                for n in names
                if n.endswith(".png") and "/addenda/recovery-" in n and "/recovery/" in n
            ]
            newest = max((n.split("/recovery/")[0] for n in pictures), default=None)
            found = {
                n.rsplit("/", 1)[1]: await self._evidence.get(n)
                for n in pictures
                if n.startswith(f"{newest}/")
            }
        except EvidenceStoreError:
            return {}
        return {name: data for name, data in found.items() if data is not None}

    async def check_channel(self, user: str, channel: str) -> None:
        """Raises ActRefusedError when the report may not be posted there for this person."""
        roles = await self._roles.roles_of(user) if self._roles is not None else frozenset()
        check_report_channel(self._reporting, channel, roles)

    async def monthly(self, month: Month, deployments: int | None = None) -> AuditorReport:
        # The trend reaches two months back; an incident is counted in the month it was declared.
        since = month.before.before.start
        async with self._uow() as uow:
            found = await uow.requests.created_between(since, month.end)
            ids = [request.id for request, _ in found]
            entries: dict[str, list[tuple[datetime, str, str]]] = {i: [] for i in ids}
            stories: dict[str, list[tuple[datetime, str]]] = {i: [] for i in ids}
            for entry in await uow.audit.for_requests(ids):
                entries[str(entry.request_id)].append((entry.at, entry.actor_name, entry.action))
                payload = json.loads(entry.body).get("payload") or {}
                words = in_words(entry.action, entry.actor_name, payload)
                stories[str(entry.request_id)].append((entry.at, words))
            head = await uow.audit.head()
            last = await uow.audit.last_checkpoint()
            tests = rollback_tests(
                await uow.drills.between(month.start, month.end),
                await uow.drills.answers(month.start, month.end),
            )
        details = [
            IncidentDetail(
                request,
                facts_of(request, entries[request.id]),
                entries[request.id],
                sha,
                await self._charts(request.id) if sha else {},
                stories[request.id],
            )
            for request, sha in found
        ]
        now = self._clock.now()
        report = monthly_report([d.facts for d in details], month, now, deployments, tests)
        return AuditorReport(
            report=report,
            incidents=[d for d in details if month.start <= d.request.created_at < month.end],
            audit_head=head[1] if head else "",
            audit_seq=head[0] if head else 0,
            last_checkpoint=last,
            made_at=now,
            deployments=deployments,
        )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _min(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} min"


def summary_rows(report: MonthlyReport) -> list[tuple[str, str]]:
    """The numbers, in the words and order every format shows them."""
    m = report.metrics
    severities = ", ".join(f"{k} {v}" for k, v in m.by_severity.items())
    return [
        ("incidents", f"{m.incidents} ({severities})"),
        ("rollback requests", str(m.requests)),
        ("MTTD", _min(m.mttd_minutes)),
        ("MTTR", _min(m.mttr_minutes)),
        ("rollback count", str(m.rollback_count)),
        ("success rate", _pct(m.success_rate)),
        ("average rollback time", _min(m.average_rollback_minutes)),
        ("emergency share", _pct(m.emergency_share)),
        ("rollback rate", _pct(m.rollback_rate)),
        ("successful changes", _pct(m.successful_changes)),
        ("SLA breaches", str(m.sla_breaches)),
        ("late customer notifications", str(m.late_customer_notifications)),
        ("overdue post-mortems", ", ".join(m.overdue_post_mortems) or "none"),
        ("overdue retroactive approvals", ", ".join(m.overdue_retro_approvals) or "none"),
        *(rollback_test_rows(report.rollback_tests) if report.rollback_tests else []),
    ]


def as_json(auditor: AuditorReport) -> str:
    report = auditor.report
    body: dict[str, Any] = {
        "month": report.metrics.month,
        "made_at": auditor.made_at.isoformat(),
        "metrics": report.metrics.model_dump(mode="json"),
        "trends": [t.model_dump(mode="json") for t in report.trends],
        "targets": report.targets,
        "rollback_tests": report.rollback_tests.model_dump(mode="json")
        if report.rollback_tests
        else None,
        "definitions": report.definitions,
        "audit": {
            "head": auditor.audit_head,
            "seq": auditor.audit_seq,
            "last_signed_checkpoint": auditor.last_checkpoint,
        },
        "incidents": [
            {
                "request": d.request.id,
                "target": d.request.target.label,
                "severity": d.request.assessment.severity.value,
                "state": d.request.state.value,
                "evidence_sha256": d.evidence_sha256,
            }
            for d in auditor.incidents
        ],
    }
    return json.dumps(body, indent=2, sort_keys=True)


def as_markdown(auditor: AuditorReport) -> str:
    report = auditor.report
    lines = [
        f"# Rollback report {report.metrics.month}",
        "",
        "| measure | value |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {value} |" for name, value in summary_rows(report)]
    lines += ["", "## Targets (change management guide)", ""]
    lines += [f"- {name}: {verdict}" for name, verdict in report.targets.items()]
    lines += ["", "## Three-month trend", ""]
    for trend in report.trends:
        shown = " → ".join("—" if v is None else f"{v:g}" for v in trend.values)
        lines.append(f"- {trend.metric}: {shown} ({trend.direction})")
    lines += [
        "",
        f"Audit head {auditor.audit_head} at seq {auditor.audit_seq}; last signed checkpoint "
        f"{auditor.last_checkpoint if auditor.last_checkpoint is not None else 'none'}.",
        "",
        "## Definitions",
        "",
    ]
    lines += [f"- **{name}**: {text}" for name, text in report.definitions.items()]
    return "\n".join(lines) + "\n"
