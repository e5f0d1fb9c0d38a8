"""What the listeners are handed by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.flows import RequestFlows
from bot.metrics import Metrics
from bot.outbox import OutboxService
from bot.service import Origin, RollbackService


@dataclass(frozen=True)
class HandlerDeps:
    service: RollbackService
    flows: RequestFlows
    outbox: OutboxService
    metrics: Metrics

    @staticmethod
    def origin(channel_id: str, channel_name: str) -> Origin:
        return Origin(channel_id=channel_id, channel_name=channel_name)
