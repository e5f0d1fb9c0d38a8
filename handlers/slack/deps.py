"""What the listeners are handed by the composition root: one use case per kind of act."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.config.metrics import Metrics
from bot.ports import Clock
from bot.usecases.aftercare import Aftercare
from bot.usecases.approvals import Approvals
from bot.usecases.decisions import Decisions
from bot.usecases.inbox import Inbox
from bot.usecases.opening import RollbackService
from bot.usecases.queries import RequestQueries
from bot.usecases.reports import AuditorReport, ReportService


@dataclass(frozen=True)
class HandlerDeps:
    opening: RollbackService
    queries: RequestQueries
    decisions: Decisions
    approvals: Approvals
    aftercare: Aftercare
    metrics: Metrics
    reports: ReportService
    # Renders a report's charts (PNG bytes by file name); the composition root picks matplotlib.
    charts: Callable[[AuditorReport], dict[str, bytes]]
    clock: Clock
    # Where the answering path stores what Slack sent, for the worker.
    inbox: Inbox
