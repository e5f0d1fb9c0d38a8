"""The incident repository: one incident per incident channel."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.domain.incident import Incident
from bot.store.tables import IncidentRow


class IncidentRepository:
    """Incidents are keyed by their Slack channel: one channel, one incident."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def in_channel(self, channel: str) -> Incident | None:
        row = (
            await self._session.scalars(
                select(IncidentRow).where(col(IncidentRow.channel_id) == channel).limit(1)
            )
        ).first()
        if row is None:
            return None
        return Incident(
            id=row.id,
            channel_id=row.channel_id,
            title=row.title,
            severity=row.severity,
            opened_at=row.opened_at,
            opened_by=row.opened_by,
        )

    async def add(self, incident: Incident) -> None:
        self._session.add(IncidentRow(**incident.model_dump()))
        await (
            self._session.flush()
        )  # a second incident for the channel fails here, in the caller's try
