"""The audit log repository: hash-chained entries appended in the transaction they record, and
signed checkpoints of the chain's head."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, update
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlmodel import col, select

from bot.audit.chain import (
    CHECKPOINT_RULE,
    ROTATION,
    AuditRecord,
    SignedCheckpoint,
    entry_body,
    entry_hash,
)
from bot.audit.keys import AuditSigner
from bot.domain.people import Person
from bot.store.audit_ranges import columns_from_body
from bot.store.tables import AuditCheckpointRow, AuditEntryRow, AuditHeadRow


@dataclass(frozen=True)
class AuditedStep:
    """An entry appended in this transaction, chained and written only at its end; after the
    commit, what the step log tells the people on call."""

    at: datetime
    actor: Person
    action: str
    request_id: str | None
    incident_id: str | None
    payload: dict[str, Any]


def _body(seq: int, at: datetime, entry: AuditedStep) -> bytes:
    return entry_body(
        seq=seq,
        at=at,
        actor_id=entry.actor.id,
        actor_name=entry.actor.name,
        action=entry.action,
        incident_id=entry.incident_id,
        request_id=entry.request_id,
        payload=entry.payload,
    )


class AuditLog:
    """Appends to the hash chain inside the caller's transaction, so each entry commits or rolls
    back with the state change it records; signs a checkpoint every `signer.every` entries.

    The chain's head is one row every appender must lock, so it is taken last: entries wait in
    the transaction until settle() (the unit of work calls it just before its commit), which
    locks the head, writes them all in one statement, signs what falls due and moves the head.
    The lock is held for those few statements and the commit, not for the whole transaction."""

    def __init__(self, session: AsyncSession, signer: AuditSigner) -> None:
        self._session = session
        self._signer = signer
        self._waiting: list[AuditedStep] = []
        self._checkpoint_at: datetime | None = None
        # checkpoints this transaction signed: anchored outside the database once it commits
        self.signed: list[SignedCheckpoint] = []
        # every entry this transaction wrote, for the handlers after the commit
        self.written: list[AuditedStep] = []

    async def append(
        self,
        *,
        at: datetime,
        actor: Person,
        action: str,
        request_id: str | None,
        incident_id: str | None,
        payload: dict[str, Any],
    ) -> None:
        self._waiting.append(AuditedStep(at, actor, action, request_id, incident_id, payload))

    async def checkpoint(self, at: datetime) -> None:
        """Sign the head as this transaction leaves it (on each completed rollback); nothing
        new is signed if that head is signed already."""
        self._checkpoint_at = at

    async def settle(self) -> int | None:
        """Chain and write what waits, sign what falls due, move the head; returns the head's
        seq (None when this transaction appended nothing and asked for no checkpoint)."""
        if not self._waiting and self._checkpoint_at is None:
            return None
        # A no-op write rather than SELECT ... FOR UPDATE: it locks the head on PostgreSQL and,
        # on SQLite, where a plain read takes no lock, makes this transaction the one writer.
        head = await self._session.execute(
            update(AuditHeadRow)
            .where(col(AuditHeadRow.id) == 1)
            .values(seq=AuditHeadRow.seq)
            .returning(col(AuditHeadRow.seq), col(AuditHeadRow.hash))
        )
        seq, digest = head.one()
        rows: list[dict[str, Any]] = []
        due: list[tuple[int, str, datetime]] = []
        for entry in self._waiting:
            seq, prev = seq + 1, digest
            at = entry.at.astimezone(UTC)  # the database reads the column "at" from the body
            body = _body(seq, at, entry)
            digest = entry_hash(prev, body)
            # the query columns are computed by the database from the body
            rows.append({"seq": seq, "prev_hash": prev, "hash": digest, "body": body.decode()})
            if seq % self._signer.every == 0:
                due.append((seq, digest, at))
        if rows:
            await self._session.execute(insert(AuditEntryRow), rows)
            await self._session.execute(
                update(AuditHeadRow).where(col(AuditHeadRow.id) == 1).values(seq=seq, hash=digest)
            )
        asked = self._checkpoint_at
        unsigned = asked is not None and seq and not any(d[0] == seq for d in due)
        if unsigned and (rows or await self._session.get(AuditCheckpointRow, seq) is None):
            assert asked is not None
            due.append((seq, digest, asked))
        for checkpoint in due:
            self._sign(*checkpoint)
        if due:
            await self._session.flush()
        self.written.extend(self._waiting)
        self._waiting, self._checkpoint_at = [], None
        return int(seq)

    def _sign(self, seq: int, digest: str, at: datetime) -> None:
        signature = self._signer.sign(seq, digest)
        self._session.add(
            AuditCheckpointRow(
                seq=seq, hash=digest, signature=signature, key_id=self._signer.key_id, signed_at=at
            )
        )
        self.signed.append(SignedCheckpoint(seq, digest, signature, self._signer.key_id, at))

    async def entries(self) -> list[AuditRecord]:
        rows = await self._session.scalars(select(AuditEntryRow).order_by(col(AuditEntryRow.seq)))
        return [_record(row) for row in rows]

    async def for_request(self, request_id: str) -> list[AuditRecord]:
        rows = await self._session.scalars(
            select(AuditEntryRow)
            .where(col(AuditEntryRow.request_id) == request_id)
            .order_by(col(AuditEntryRow.seq))
        )
        return [_record(row) for row in rows]

    async def for_requests(self, request_ids: list[str]) -> list[AuditRecord]:
        if not request_ids:
            return []
        rows = await self._session.scalars(
            select(AuditEntryRow)
            .where(col(AuditEntryRow.request_id).in_(request_ids))
            .order_by(col(AuditEntryRow.seq))
        )
        return [_record(row) for row in rows]

    async def head(self) -> tuple[int, str] | None:
        """(seq, hash) of the chain's newest entry."""
        head = await self._session.get(AuditHeadRow, 1)
        return (head.seq, head.hash) if head else None

    async def last_checkpoint(self) -> int | None:
        return await self._session.scalar(
            select(col(AuditCheckpointRow.seq)).order_by(col(AuditCheckpointRow.seq).desc())
        )

    async def checkpoints(self) -> list[SignedCheckpoint]:
        rows = await self._session.scalars(
            select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.seq))
        )
        return [_checkpoint(row) for row in rows]


def _checkpoint(row: Any) -> SignedCheckpoint:
    """From a table row, or a raw result row with the same columns."""
    return SignedCheckpoint(
        seq=row.seq,
        hash=row.hash,
        signature=row.signature,
        key_id=row.key_id,
        signed_at=row.signed_at,
    )


def _record(row: AuditEntryRow) -> AuditRecord:
    assert row.seq is not None
    return AuditRecord(
        seq=row.seq,
        at=row.at,
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        action=row.action,
        incident_id=row.incident_id,
        request_id=row.request_id,
        prev_hash=row.prev_hash,
        hash=row.hash,
        body=row.body,
    )


class ChainReader:
    """The whole chain read straight off one connection, for verification and export: raw rows
    streamed a page at a time, so a million entries never sit in memory as objects."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def checkpoints(self) -> list[SignedCheckpoint]:
        rows = await self._conn.execute(
            select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.seq))
        )
        return [_checkpoint(row) for row in rows]

    async def hashes_at(self, seqs: Collection[int]) -> dict[int, str]:
        """The chain's hashes at these sequence numbers (the ones that exist), a batch a query."""
        ordered, found = sorted(seqs), dict[int, str]()
        for start in range(0, len(ordered), 500):
            rows = await self._conn.execute(
                select_columns(col(AuditEntryRow.seq), col(AuditEntryRow.hash)).where(
                    col(AuditEntryRow.seq).in_(ordered[start : start + 500])
                )
            )
            found.update({seq: digest for seq, digest in rows if seq is not None})
        return found

    async def newest_rule(self) -> int | None:
        """The checkpoint interval the chain last recorded, if it recorded one."""
        rows = await self._conn.execute(
            select_columns(col(AuditEntryRow.body))
            .where(col(AuditEntryRow.action) == CHECKPOINT_RULE)
            .order_by(col(AuditEntryRow.seq).desc())
            .limit(1)
        )
        body = rows.scalar()
        if body is None:
            return None
        every = json.loads(body).get("payload", {}).get("every")
        return every if isinstance(every, int) else None

    async def columns_from_body(self) -> bool:
        """Whether the database still computes the query columns from the hashed body."""
        return await columns_from_body(self._conn)

    async def last_seq(self) -> int:
        rows = await self._conn.execute(select_columns(func.max(col(AuditEntryRow.seq))))
        return int(rows.scalar() or 0)

    async def rules_and_rotations(self, last_seq: int) -> list[tuple[int, str]]:
        """The entries that change how the chain is checked, in order (found by their action
        column, which the database computes from the hashed body)."""
        rows = await self._conn.execute(
            select_columns(col(AuditEntryRow.seq), col(AuditEntryRow.body))
            .where(col(AuditEntryRow.action).in_((CHECKPOINT_RULE, ROTATION)))
            .where(col(AuditEntryRow.seq) <= last_seq)
            .order_by(col(AuditEntryRow.seq))
        )
        return [(int(seq or 0), str(body)) for seq, body in rows]

    async def newest_checkpoint(self) -> SignedCheckpoint | None:
        rows = await self._conn.execute(
            select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.seq).desc()).limit(1)
        )
        return next((_checkpoint(row) for row in rows), None)

    async def pages(self, page: int) -> AsyncIterator[Sequence[Sequence[Any]]]:
        """(seq, prev_hash, hash, body, at, actor_id, actor_name, action, incident_id,
        request_id) tuples in chain order."""
        t = AuditEntryRow.__table__  # type: ignore[attr-defined]
        query = select_columns(
            t.c.seq,
            t.c.prev_hash,
            t.c.hash,
            t.c.body,
            t.c.at,
            t.c.actor_id,
            t.c.actor_name,
            t.c.action,
            t.c.incident_id,
            t.c.request_id,
        ).order_by(t.c.seq)
        result = await self._conn.stream(query.execution_options(yield_per=page))
        async for rows in result.partitions():
            yield rows

    async def records(self, since: datetime | None, until: datetime | None) -> list[AuditRecord]:
        query = select(AuditEntryRow).order_by(col(AuditEntryRow.seq))
        if since is not None:
            query = query.where(col(AuditEntryRow.at) >= since)
        if until is not None:
            query = query.where(col(AuditEntryRow.at) < until)
        rows = await self._conn.execute(query)
        return [_record(AuditEntryRow.model_validate(r._mapping)) for r in rows]


@contextlib.asynccontextmanager
async def chain_reader(engine: AsyncEngine) -> AsyncIterator[ChainReader]:
    async with engine.connect() as conn:
        yield ChainReader(conn)
