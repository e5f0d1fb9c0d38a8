"""When the watch after a rollback ends: the recovery charts, drawn from the metrics service,
added to the evidence pack as a signed addendum and shared in the request's thread.

A metrics service that cannot be asked does not lose the chart: it is drawn saying "no data",
and the reason goes into the addendum's facts."""

from __future__ import annotations

import asyncio
import base64
import json

import structlog

from bot.domain.notices import ChartFile, RecoveryCharts
from bot.domain.policy import ApprovalPolicy
from bot.domain.recovery_charts import Happened, RecoveryChart, recovery_charts
from bot.ports import AdapterError, ChartRenderer, Clock, MetricsHistory, Series
from bot.store.due_items import DueKind
from bot.store.uow import UnitOfWorkFactory
from bot.usecases.addenda import Addenda

log = structlog.get_logger("rollbot.evidence")


def _raw(chart: RecoveryChart, series: Series) -> bytes:
    """The series behind the picture, for anyone who wants the numbers."""
    body = {
        **chart.facts(),
        "step_seconds": chart.step.total_seconds(),
        "values": [[t.isoformat(), v] for t, v in series],
    }
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


class RecoveryEvidence:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        policy: ApprovalPolicy,
        history: MetricsHistory,
        render: ChartRenderer,
        addenda: Addenda,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy
        self._history = history
        self._render = render
        self._addenda = addenda

    async def watch_ended(self, request_id: str) -> int:
        """Draw, store and share the request's recovery charts; how many were drawn."""
        async with self._uow() as uow:
            request = await uow.requests.get(request_id)
            records = await uow.audit.for_request(request_id)
        metrics = self._policy.service(request.target.name).verification.metrics
        steps = [Happened(r.action, r.at, r.actor_name) for r in records]
        end = self._clock.now()
        lead = self._policy.evidence.events_lead
        charts = recovery_charts(request, metrics, steps, end=end, lead=lead) if metrics else ()
        if metrics is None or not charts:
            # nothing to chart (the policy may have changed since a retry began): none is owed
            async with self._uow() as uow:
                await uow.due.close(DueKind.RECOVERY_CHARTS, request_id, end)
            return 0
        files: dict[str, bytes] = {}
        gaps: list[str] = []
        for chart in charts:
            try:
                series = await self._history.series(metrics.prometheus_url, chart.query, chart)
            except AdapterError as exc:
                gaps.append(f"{chart.check}: {exc}")
                series = []
            png = await asyncio.to_thread(self._render, chart, series)  # CPU: off the loop
            files[f"recovery/{chart.check}.png"] = png
            files[f"recovery/{chart.check}.json"] = _raw(chart, series)
        facts = {
            "window": {"start": charts[0].start.isoformat(), "end": end.isoformat()},
            "charts": [f"recovery/{c.check}.png" for c in charts],
            "queries": {c.check: c.query for c in charts},
            "gaps": gaps,
        }
        added = await self._addenda.add(
            request.id,
            "recovery",
            what="Recovery charts",
            facts=facts,
            files=files,
            retry=DueKind.RECOVERY_CHARTS,
        )
        if added is not None:
            shared = tuple(
                ChartFile(
                    name=f"{request.id}-{c.check}.png",
                    title=f"{request.id} {c.service}: {c.query}",
                    png_base64=base64.b64encode(files[f"recovery/{c.check}.png"]).decode(),
                )
                for c in charts
            )
            comment = (
                f"Recovery charts for {request.target.label}, {charts[0].start:%H:%M} to "
                f"{end:%H:%M} UTC: the incident's detection, the approvals, the patch and the "
                "watch are marked on each."
            )
            async with self._uow() as uow:
                await uow.outbox.notify(request, RecoveryCharts(comment=comment, files=shared), end)
        return len(charts)
