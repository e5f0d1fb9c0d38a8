"""What the listeners are handed by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.config.metrics import Metrics
from bot.ports import Clock
from bot.usecases.approvals import RequestFlows
from bot.usecases.opening import RollbackService
from bot.usecases.outbox import OutboxService
from bot.usecases.reports import AuditorReport, ReportService


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
