"""Repositories: domain objects in, rows out, and back. Only the unit of work creates them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.audit.chain import entry_body, entry_hash
from bot.audit.keys import AuditSigner
from bot.domain.errors import DomainError
from bot.domain.people import Person
from bot.domain.request import TERMINAL, RollbackRequest, TargetRef
from bot.store.tables import (
    AuditCheckpointRow,
    AuditEntryRow,
    AuditHeadRow,
    IncidentRow,
    OutboxRow,
    RollbackRequestRow,
)


class RequestMovedOnError(DomainError):
    """Someone else moved the request between our read and our write."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"request {request_id} has moved on; look at the card for where it stands")


class UnknownRequestError(DomainError):
    def __init__(self, request_id: str) -> None:
        super().__init__(f"there is no rollback request {request_id}")


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
            )
        )
        await self._session.flush()

    async def get(self, request_id: str) -> RollbackRequest:
        row = await self._session.get(RollbackRequestRow, request_id)
        if row is None:
            raise UnknownRequestError(request_id)
        return RollbackRequest.model_validate_json(row.data)

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
            )
        )
        if result.rowcount != 1:
            raise RequestMovedOnError(request.id)

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


class AuditLog:
    """Appends to the hash chain inside the caller's transaction, so each entry commits or rolls
    back with the state change it records; signs a checkpoint every `signer.every` entries."""

    def __init__(self, session: AsyncSession, signer: AuditSigner) -> None:
        self._session = session
        self._signer = signer
        # The head as this transaction moved it: taken (and locked) by the first append, written
        # back once by settle() before commit, so a transition's entries cost one round trip each.
        self._head: tuple[int, str] | None = None
        self._unsettled = False

    async def append(
        self,
        *,
        at: datetime,
        actor: Person,
        action: str,
        request_id: str | None,
        incident_id: str | None,
        payload: dict[str, Any],
    ) -> int:
        if self._head is None:
            # Taking the head row first serializes appenders: the chain cannot fork.
            head = await self._session.execute(
                update(AuditHeadRow)
                .where(col(AuditHeadRow.id) == 1)
                .values(seq=col(AuditHeadRow.seq) + 1)
                .returning(col(AuditHeadRow.seq), col(AuditHeadRow.hash))
            )
            seq, prev = head.one()
        else:
            seq, prev = self._head[0] + 1, self._head[1]
        body = entry_body(
            seq=seq,
            at=at,
            actor_id=actor.id,
            actor_name=actor.name,
            action=action,
            incident_id=incident_id,
            request_id=request_id,
            payload=payload,
        )
        digest = entry_hash(prev, body)
        self._head, self._unsettled = (seq, digest), True
        self._session.add(
            AuditEntryRow(
                seq=seq,
                at=at,
                actor_id=actor.id,
                actor_name=actor.name,
                action=action,
                request_id=request_id,
                incident_id=incident_id,
                prev_hash=prev,
                hash=digest,
                body=body.decode("utf-8"),
            )
        )
        if seq % self._signer.every == 0:
            await self._sign(seq, digest, at)
        return int(seq)

    async def settle(self) -> None:
        """Write the moved head back; the unit of work calls this before it commits."""
        if self._head is not None and self._unsettled:
            seq, digest = self._head
            await self._session.execute(
                update(AuditHeadRow).where(col(AuditHeadRow.id) == 1).values(seq=seq, hash=digest)
            )
            self._unsettled = False

    async def _sign(self, seq: int, digest: str, at: datetime) -> None:
        self._session.add(
            AuditCheckpointRow(
                seq=seq,
                hash=digest,
                signature=self._signer.sign(seq, digest),
                key_id=self._signer.key_id,
                signed_at=at,
            )
        )
        await self._session.flush()

    async def checkpoint(self, at: datetime) -> int:
        """Sign the current head (on each completed rollback); a no-op if it is signed already."""
        await self.settle()
        await self._session.flush()
        head = await self._session.get(AuditHeadRow, 1, populate_existing=True)
        assert head is not None
        if head.seq and await self._session.get(AuditCheckpointRow, head.seq) is None:
            await self._sign(head.seq, head.hash, at)
        return head.seq

    async def entries(self) -> Sequence[AuditEntryRow]:
        rows = await self._session.scalars(select(AuditEntryRow).order_by(col(AuditEntryRow.seq)))
        return list(rows)

    async def for_request(self, request_id: str) -> Sequence[AuditEntryRow]:
        rows = await self._session.scalars(
            select(AuditEntryRow)
            .where(col(AuditEntryRow.request_id) == request_id)
            .order_by(col(AuditEntryRow.seq))
        )
        return list(rows)

    async def checkpoints(self) -> Sequence[AuditCheckpointRow]:
        rows = await self._session.scalars(
            select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.seq))
        )
        return list(rows)


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def put(
        self,
        *,
        channel: str,
        kind: str,
        request_id: str | None,
        payload: dict[str, Any],
        now: datetime,
    ) -> None:
        self._session.add(
            OutboxRow(
                channel_id=channel,
                kind=kind,
                request_id=request_id,
                payload=json.dumps(payload, separators=(",", ":")),
                created_at=now,
            )
        )

    async def pending(self, limit: int) -> list[OutboxRow]:
        rows = await self._session.scalars(
            select(OutboxRow)
            .where(col(OutboxRow.delivered_at).is_(None))
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
        return list(rows)

    async def mark_delivered(self, message_id: int, now: datetime) -> None:
        await self._session.execute(
            update(OutboxRow).where(col(OutboxRow.id) == message_id).values(delivered_at=now)
        )

    async def mark_retry(self, message_id: int, not_before: datetime, error: str) -> None:
        await self._session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.id) == message_id)
            .values(
                not_before=not_before, attempts=col(OutboxRow.attempts) + 1, last_error=error[:500]
            )
        )


class IncidentRepository:
    """Incidents are keyed by their Slack channel: one channel, one incident."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def in_channel(self, channel: str) -> IncidentRow | None:
        return (
            await self._session.scalars(
                select(IncidentRow).where(col(IncidentRow.channel_id) == channel).limit(1)
            )
        ).first()

    async def add(self, incident: IncidentRow) -> None:
        self._session.add(incident)
        await self._session.flush()
