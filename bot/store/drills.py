"""Drills as stored: one row each, written with the same conditional save as requests, and the
readiness gate's answers beside them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.domain.drills import Drill
from bot.domain.errors import DomainError
from bot.domain.rollback_readiness import ReadinessAnswer
from bot.store.tables import DrillRow, ReadinessDecisionRow


class DrillMovedOnError(DomainError):
    def __init__(self, drill_id: str) -> None:
        super().__init__(f"drill {drill_id} was changed by another process")


class DrillRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, drill: Drill) -> None:
        self._session.add(
            DrillRow(
                id=drill.id,
                target_kind=drill.target.kind,
                target_name=drill.target.name,
                target_namespace=drill.target.namespace,
                state=drill.state.value,
                version=drill.version,
                started_at=drill.started_at,
                finished_at=drill.finished_at,
                data=drill.model_dump_json(),
            )
        )
        await self._session.flush()

    async def save(self, drill: Drill, expected_version: int) -> None:
        """Conditional update: exactly one writer wins a given version."""
        result: CursorResult[Any] = await self._session.execute(  # type: ignore[assignment]
            update(DrillRow)
            .where(col(DrillRow.id) == drill.id)
            .where(col(DrillRow.version) == expected_version)
            .values(
                state=drill.state.value,
                version=drill.version,
                finished_at=drill.finished_at,
                data=drill.model_dump_json(),
            )
        )
        if result.rowcount != 1:
            raise DrillMovedOnError(drill.id)

    async def get(self, drill_id: str) -> Drill | None:
        row = await self._session.get(DrillRow, drill_id)
        return None if row is None else Drill.model_validate_json(row.data)

    async def of_target(self, kind: str, name: str, since: datetime | None = None) -> list[Drill]:
        """The drills of a target by kind and name (in any namespace), oldest first."""
        query = (
            select(DrillRow)
            .where(col(DrillRow.target_kind) == kind)
            .where(col(DrillRow.target_name) == name)
        )
        if since is not None:
            query = query.where(col(DrillRow.started_at) >= since)
        rows = await self._session.scalars(query.order_by(col(DrillRow.started_at)))
        return [Drill.model_validate_json(r.data) for r in rows]

    async def between(self, since: datetime, until: datetime) -> list[Drill]:
        rows = await self._session.scalars(
            select(DrillRow)
            .where(col(DrillRow.started_at) >= since)
            .where(col(DrillRow.started_at) < until)
            .order_by(col(DrillRow.started_at))
        )
        return [Drill.model_validate_json(r.data) for r in rows]

    async def record_answer(self, answer: ReadinessAnswer) -> None:
        self._session.add(
            ReadinessDecisionRow(
                target=answer.target.label,
                release=answer.version,
                ready=answer.ready,
                decided_at=answer.at,
                data=answer.model_dump_json(),
            )
        )

    async def answers(self, since: datetime, until: datetime) -> list[ReadinessAnswer]:
        rows = await self._session.scalars(
            select(ReadinessDecisionRow)
            .where(col(ReadinessDecisionRow.decided_at) >= since)
            .where(col(ReadinessDecisionRow.decided_at) < until)
            .order_by(col(ReadinessDecisionRow.decided_at))
        )
        return [ReadinessAnswer.model_validate_json(r.data) for r in rows]
