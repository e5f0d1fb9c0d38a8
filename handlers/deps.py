"""What the listeners are handed by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.flows import RequestFlows
from bot.metrics import Metrics
from bot.outbox import OutboxService
from bot.service import RollbackService


@dataclass(frozen=True)
class HandlerDeps:
    service: RollbackService
    flows: RequestFlows
    outbox: OutboxService
    metrics: Metrics
