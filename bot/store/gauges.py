"""What /metrics reports as it stands, read at scrape time in one short read-only transaction:
open requests by state, approvals waiting, obligations due and overdue, inbox and outbox
backlogs with the age of their oldest item. Each is a COUNT/MIN over an indexed column."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bot.config.metrics import Backlog, OperationalGauges
from bot.domain.events import ObligationKind
from bot.domain.request import TERMINAL, RequestState
from bot.store.tables import DueItemRow, InboxRow, OutboxRow, RollbackRequestRow

# Due items that are obligations people must meet (not timeouts, watches, uploads, leases)
OBLIGATIONS = [k.value for k in ObligationKind]


def _age(now: datetime, oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite hands naive UTC back
        oldest = oldest.replace(tzinfo=UTC)
    return max((now - oldest).total_seconds(), 0.0)


async def read_gauges(engine: AsyncEngine, now: datetime) -> OperationalGauges:
    ended = [s.value for s in TERMINAL]
    async with engine.connect() as conn:
        by_state = await conn.execute(
            select(col(RollbackRequestRow.state), func.count())
            .where(col(RollbackRequestRow.state).not_in(ended))
            .group_by(col(RollbackRequestRow.state))
        )
        open_by_state = {str(state): int(n) for state, n in by_state}
        waiting = await conn.execute(
            select(func.count(), func.min(col(RollbackRequestRow.updated_at))).where(
                col(RollbackRequestRow.state) == RequestState.AWAITING_APPROVAL.value
            )
        )
        approvals, approvals_since = waiting.one()
        counted: dict[bool, dict[str, int]] = {}
        # An obligation's item waits at its deadline; once chased (stage > 0) it waits for the
        # next reminder, so it is overdue either way. Two plain counts: no bound value in
        # GROUP BY, which PostgreSQL would read as a different expression.
        overdue_now = or_(col(DueItemRow.stage) > 0, col(DueItemRow.due_at) <= now)
        for late in (True, False):
            moment = overdue_now if late else not_(overdue_now)
            rows = await conn.execute(
                select(col(DueItemRow.kind), func.count())
                .where(
                    col(DueItemRow.done_at).is_(None),
                    col(DueItemRow.kind).in_(OBLIGATIONS),
                    moment,
                )
                .group_by(col(DueItemRow.kind))
            )
            counted[late] = {str(kind): int(n) for kind, n in rows}
        overdue, pending = counted[True], counted[False]
        inbox = (
            await conn.execute(
                select(func.count(), func.min(col(InboxRow.received_at))).where(
                    col(InboxRow.processed_at).is_(None), col(InboxRow.failed_at).is_(None)
                )
            )
        ).one()
        outbox = (
            await conn.execute(
                select(func.count(), func.min(col(OutboxRow.created_at))).where(
                    col(OutboxRow.delivered_at).is_(None), col(OutboxRow.failed_at).is_(None)
                )
            )
        ).one()
    return OperationalGauges(
        open_by_state=open_by_state,
        approvals_pending=Backlog(int(approvals), _age(now, approvals_since)),
        obligations_due=pending,
        obligations_overdue=overdue,
        inbox=Backlog(int(inbox[0]), _age(now, inbox[1])),
        outbox=Backlog(int(outbox[0]), _age(now, outbox[1])),
    )
