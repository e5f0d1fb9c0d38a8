"""The request repository: rollback requests in and out, saved only on the version they were read at."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.domain.errors import DomainError
from bot.domain.request import TERMINAL, RollbackRequest, TargetRef
from bot.store.tables import RollbackRequestRow


class RequestMovedOnError(DomainError):
    """Someone else moved the request between our read and our write."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"request {request_id} has moved on; look at the card for where it stands")


class UnknownRequestError(DomainError):
    def __init__(self, request_id: str) -> None:
        super().__init__(f"there is no rollback request {request_id}")


class TargetBusyError(DomainError):
    """The target already has an open request: one at a time per target, across channels."""

    def __init__(self, open_request: RollbackRequest) -> None:
        self.open_request = open_request
        super().__init__(
            f"{open_request.target.label} already has an open rollback request, "
            f"{open_request.id} ({open_request.state.value.replace('_', ' ')}); follow it in its "
            "incident channel. rollbot keeps one open request per target."
        )


def _holds(request: RollbackRequest) -> str | None:
    """What an open request holds in the unique open_target column: its target, until it ends."""
    return request.target.label if request.state.holds_target else None


class RequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, request: RollbackRequest, idempotency_key: str) -> None:
        self._session.add(
            RollbackRequestRow(
                id=request.id,
                incident_id=request.incident_id,
                channel_id=request.channel,
                state=request.state.value,
                version=request.version,
                target_kind=request.target.kind,
                target_name=request.target.name,
                target_namespace=request.target.namespace,
                requester_id=request.requester.id,
                severity=request.assessment.severity.value,
                created_at=request.created_at,
                updated_at=request.updated_at,
                idempotency_key=idempotency_key,
                data=request.model_dump_json(),
                open_target=_holds(request),
            )
        )
        await self._session.flush()

    async def get(self, request_id: str) -> RollbackRequest:
        row = await self._session.get(RollbackRequestRow, request_id)
        if row is None:
            raise UnknownRequestError(request_id)
        return RollbackRequest.model_validate_json(row.data)

    async def get_many(self, request_ids: Collection[str]) -> dict[str, RollbackRequest]:
        """The requests that exist among `request_ids`, in one statement."""
        if not request_ids:
            return {}
        rows = await self._session.execute(
            select(col(RollbackRequestRow.id), col(RollbackRequestRow.data)).where(
                col(RollbackRequestRow.id).in_(list(request_ids))
            )
        )
        return {rid: RollbackRequest.model_validate_json(data) for rid, data in rows}

    async def by_idempotency_key(self, key: str) -> RollbackRequest | None:
        row = (
            await self._session.scalars(
                select(RollbackRequestRow).where(col(RollbackRequestRow.idempotency_key) == key)
            )
        ).first()
        return None if row is None else RollbackRequest.model_validate_json(row.data)

    async def save(self, request: RollbackRequest, expected_version: int) -> None:
        """Conditional update: exactly one writer wins a given version, across every replica."""
        result: CursorResult[Any] = await self._session.execute(  # type: ignore[assignment]
            update(RollbackRequestRow)
            .where(col(RollbackRequestRow.id) == request.id)
            .where(col(RollbackRequestRow.version) == expected_version)
            .values(
                state=request.state.value,
                version=request.version,
                severity=request.assessment.severity.value,
                updated_at=request.updated_at,
                data=request.model_dump_json(),
                open_target=_holds(request),
            )
        )
        if result.rowcount != 1:
            raise RequestMovedOnError(request.id)

    async def open_for_target(self, target: TargetRef) -> RollbackRequest | None:
        row = (
            await self._session.scalars(
                select(RollbackRequestRow).where(
                    col(RollbackRequestRow.open_target) == target.label
                )
            )
        ).first()
        return None if row is None else RollbackRequest.model_validate_json(row.data)

    async def open_in_channel(self, channel: str) -> list[RollbackRequest]:
        rows = await self._session.scalars(
            select(RollbackRequestRow)
            .where(col(RollbackRequestRow.channel_id) == channel)
            .where(col(RollbackRequestRow.state).not_in([s.value for s in TERMINAL]))
            .order_by(col(RollbackRequestRow.created_at))
        )
        return [RollbackRequest.model_validate_json(r.data) for r in rows]

    async def latest_in_channel(self, channel: str) -> RollbackRequest | None:
        row = (
            await self._session.scalars(
                select(RollbackRequestRow)
                .where(col(RollbackRequestRow.channel_id) == channel)
                .order_by(col(RollbackRequestRow.created_at).desc())
                .limit(1)
            )
        ).first()
        return None if row is None else RollbackRequest.model_validate_json(row.data)

    async def for_target(self, target: TargetRef, limit: int = 10) -> list[RollbackRequest]:
        query = (
            select(RollbackRequestRow)
            .where(col(RollbackRequestRow.target_kind) == target.kind)
            .where(col(RollbackRequestRow.target_name) == target.name)
            .order_by(col(RollbackRequestRow.created_at).desc())
            .limit(limit)
        )
        if target.namespace is not None:
            query = query.where(col(RollbackRequestRow.target_namespace) == target.namespace)
        rows = await self._session.scalars(query)
        return [RollbackRequest.model_validate_json(r.data) for r in rows]

    async def listed(
        self, *, state: str | None, target: TargetRef | None, limit: int
    ) -> list[RollbackRequest]:
        """Newest first, optionally of one state or one target (the operator's `requests list`)."""
        query = select(RollbackRequestRow).order_by(col(RollbackRequestRow.created_at).desc())
        if state is not None:
            query = query.where(col(RollbackRequestRow.state) == state)
        if target is not None:
            query = query.where(col(RollbackRequestRow.target_kind) == target.kind)
            query = query.where(col(RollbackRequestRow.target_name) == target.name)
            if target.namespace is not None:
                query = query.where(col(RollbackRequestRow.target_namespace) == target.namespace)
        rows = await self._session.scalars(query.limit(limit))
        return [RollbackRequest.model_validate_json(r.data) for r in rows]

    async def in_state(self, state: str, limit: int = 500) -> list[RollbackRequest]:
        rows = await self._session.scalars(
            select(RollbackRequestRow)
            .where(col(RollbackRequestRow.state) == state)
            .order_by(col(RollbackRequestRow.updated_at))
            .limit(limit)
        )
        return [RollbackRequest.model_validate_json(r.data) for r in rows]

    async def set_evidence(self, request_id: str, sha256: str) -> None:
        await self._session.execute(
            update(RollbackRequestRow)
            .where(col(RollbackRequestRow.id) == request_id)
            .values(evidence_sha256=sha256)
        )

    async def evidence_of(self, request_id: str) -> str | None:
        """The sha256 of the request's stored evidence pack, if one is stored."""
        found: str | None = await self._session.scalar(
            select(RollbackRequestRow.evidence_sha256).where(
                col(RollbackRequestRow.id) == request_id
            )
        )
        return found

    async def set_card(self, request_id: str, channel: str, ts: str) -> None:
        await self._session.execute(
            update(RollbackRequestRow)
            .where(col(RollbackRequestRow.id) == request_id)
            .values(card_channel=channel, card_ts=ts)
        )

    async def close_channel(self, channel: str, why: str) -> None:
        """Slack stopped taking rollbot's messages in `channel`: mark its requests."""
        await self._session.execute(
            update(RollbackRequestRow)
            .where(col(RollbackRequestRow.channel_id) == channel)
            .where(col(RollbackRequestRow.channel_closed).is_(None))
            .values(channel_closed=why[:200])
        )

    async def reopen_channel(self, channel: str) -> None:
        """A message went through again (rollbot was invited back)."""
        await self._session.execute(
            update(RollbackRequestRow)
            .where(col(RollbackRequestRow.channel_id) == channel)
            .where(col(RollbackRequestRow.channel_closed).is_not(None))
            .values(channel_closed=None)
        )

    async def channel_closed(self, request_id: str) -> str | None:
        """Why the request's channel takes no messages from rollbot, or None when it does."""
        row = await self._session.get(RollbackRequestRow, request_id)
        return None if row is None else row.channel_closed

    async def card(self, request_id: str) -> tuple[str, str] | None:
        row = await self._session.get(RollbackRequestRow, request_id)
        if row is None or row.card_ts is None or row.card_channel is None:
            return None
        return row.card_channel, row.card_ts

    async def count(self) -> int:
        return int(
            (
                await self._session.execute(select(func.count()).select_from(RollbackRequestRow))
            ).scalar_one()
        )

    async def created_between(
        self, since: datetime, until: datetime
    ) -> list[tuple[RollbackRequest, str | None]]:
        """Requests opened in [since, until), oldest first, with their evidence pack's hash."""
        rows = await self._session.scalars(
            select(RollbackRequestRow)
            .where(col(RollbackRequestRow.created_at) >= since)
            .where(col(RollbackRequestRow.created_at) < until)
            .order_by(col(RollbackRequestRow.created_at))
        )
        return [(RollbackRequest.model_validate_json(r.data), r.evidence_sha256) for r in rows]
