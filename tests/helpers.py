"""Reading what rollbot stored, for assertions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from bot.app import Runtime
from bot.store.tables import AuditEntryRow, OutboxRow, RollbackRequestRow


@dataclass(frozen=True)
class Stored:
    requests: int
    audit: int
    outbox: int


async def stored(rt: Runtime) -> Stored:
    async with rt.engine.connect() as conn:
        counts = [
            (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (RollbackRequestRow, AuditEntryRow, OutboxRow)
        ]
    return Stored(*counts)


NOTHING = Stored(0, 0, 0)
