"""What the listeners are handed by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.flows import RequestFlows
from bot.metrics import Metrics
from bot.outbox import OutboxService
from bot.ports import Clock
from bot.reports import AuditorReport, ReportService
from bot.service import RollbackService


@dataclass(frozen=True)
class HandlerDeps:
    service: RollbackService
    flows: RequestFlows
    outbox: OutboxService
    metrics: Metrics
    reports: ReportService
    # Renders a report's charts (PNG bytes by file name); the composition root picks matplotlib.
    charts: Callable[[AuditorReport], dict[str, bytes]]
    clock: Clock
