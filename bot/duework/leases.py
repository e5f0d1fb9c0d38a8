"""Rollbacks whose process died: an in-flight rollback holds a lease its process renews; when the
lease falls due, another process follows the rollback to its end (never a second rollback)."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from bot.ports import Clock
from bot.store.due_items import DueKind
from bot.store.uow import UnitOfWork
from bot.usecases.execution import ExecutionRunner

log = structlog.get_logger("rollbot.leases")


class RollbackLeases:
    def __init__(
        self, uow: Callable[[], UnitOfWork], clock: Clock, executions: ExecutionRunner
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._executions = executions

    async def reclaim(self) -> int:
        """Rollbacks whose process stopped renewing its lease (it died): follow them up here.

        The lease is pushed on as it is claimed, so one process takes each; resuming only
        follows what was started and never changes the target again."""
        now = self._clock.now()
        taken: list[str] = []
        async with self._uow() as uow:
            for item in await uow.due.claim(now, limit=20, kinds=(DueKind.EXECUTION_LEASE,)):
                renewed = now + self._executions.lease
                if await uow.due.advance(item.id, item.stage, next_due=renewed, done=None):
                    taken.append(item.request_id)
        for request_id in taken:
            log.warning("rollback_reclaimed", request=request_id)
            self._executions.resume_in_background(request_id)
        return len(taken)
