"""Tables. A request's full domain state is kept as JSON beside the columns we query on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Computed,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out on every engine (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc() -> Column[datetime]:
    return Column(UtcDateTime(), nullable=False)


def _from_body(path: str) -> Computed:
    """A column the database computes from the hashed body, never written by rollbot. The DDL
    is the migration's; this marks the column as computed so inserts leave it out."""
    return Computed(f"json_extract(body, '$.{path}')", persisted=True)


def _utc_nullable() -> Column[datetime]:
    return Column(UtcDateTime(), nullable=True)


class IncidentRow(SQLModel, table=True):
    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("channel_id", name="uq_incidents_channel_id"),)

    id: str = Field(primary_key=True, max_length=32)
    channel_id: str = Field(max_length=32)
    title: str = Field(max_length=300)
    severity: str = Field(max_length=4)
    opened_at: datetime = Field(sa_column=_utc())
    opened_by: str = Field(max_length=32)
    closed_at: datetime | None = Field(default=None, sa_column=_utc_nullable())


class RollbackRequestRow(SQLModel, table=True):
    __tablename__ = "rollback_requests"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_rollback_requests_idempotency_key"),
        Index("ix_rollback_requests_channel_state", "channel_id", "state"),
    )

    id: str = Field(primary_key=True, max_length=32)
    incident_id: str | None = Field(default=None, foreign_key="incidents.id", max_length=32)
    channel_id: str = Field(max_length=32)
    state: str = Field(max_length=32)
    # Every accepted event bumps it; writers update WHERE version = the one they read.
    version: int = Field(default=0)
    target_kind: str = Field(max_length=32)
    target_name: str = Field(max_length=300)
    target_namespace: str | None = Field(default=None, max_length=100)
    requester_id: str = Field(max_length=32)
    severity: str = Field(max_length=4)
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())
    # Slack's trigger_id for commands: a retried delivery finds the request it already made.
    idempotency_key: str = Field(max_length=200)
    # The target's label while the request is open, NULL once it ended; unique, so a target has
    # one open request at a time across channels and replicas (migration 0002).
    open_target: str | None = Field(default=None, max_length=420)
    card_channel: str | None = Field(default=None, max_length=32)
    card_ts: str | None = Field(default=None, max_length=32)
    # Slack's answer when the request's channel stopped taking rollbot's messages (archived,
    # rollbot removed): nothing automatic happens in it while set.
    channel_closed: str | None = Field(default=None, max_length=200)
    evidence_sha256: str | None = Field(default=None, max_length=64)
    data: str = Field(sa_column=Column(Text, nullable=False))


class AuditEntryRow(SQLModel, table=True):
    """Append-only: the migration installs triggers that refuse UPDATE and DELETE. The query
    columns are computed by the database from the hashed body (migration 0005 holds the
    expressions for each engine), so rollbot writes only seq, the hashes and the body."""

    __tablename__ = "audit_entries"

    seq: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    at: datetime = Field(sa_column=Column(UtcDateTime(), _from_body("at"), nullable=False))
    actor_id: str = Field(sa_column=Column(String(32), _from_body("actor.id"), nullable=False))
    actor_name: str = Field(sa_column=Column(String(200), _from_body("actor.name"), nullable=False))
    action: str = Field(
        sa_column=Column(String(64), _from_body("action"), nullable=False, index=True)
    )
    incident_id: str | None = Field(
        default=None, sa_column=Column(String(32), _from_body("incident_id"), nullable=True)
    )
    request_id: str | None = Field(
        default=None,
        sa_column=Column(String(32), _from_body("request_id"), nullable=True, index=True),
    )
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # The canonical JSON that was hashed; the columns above are computed from it.
    body: str = Field(sa_column=Column(Text, nullable=False))


class AuditHeadRow(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(max_length=64)


class AuditCheckpointRow(SQLModel, table=True):
    __tablename__ = "audit_checkpoints"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: str = Field(max_length=64)
    signature: str = Field(max_length=128)
    key_id: str = Field(max_length=16)
    signed_at: datetime = Field(sa_column=_utc())


class OutboxRow(SQLModel, table=True):
    """Messages to Slack, written with the state change they report and delivered in order."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "delivered_at", "channel_id", "id"),
        Index(
            "ix_outbox_waiting",
            "channel_id",
            "id",
            sqlite_where=text("delivered_at IS NULL AND failed_at IS NULL"),
            postgresql_where=text("delivered_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    request_id: str | None = Field(default=None, max_length=32)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_utc())
    delivered_at: datetime | None = Field(default=None, sa_column=_utc_nullable())
    attempts: int = Field(default=0)
    not_before: datetime | None = Field(default=None, sa_column=_utc_nullable())
    last_error: str | None = Field(default=None, max_length=500)
    # Slack refused it for good (the error is in last_error); it is never sent again.
    failed_at: datetime | None = Field(default=None, sa_column=_utc_nullable())


class InboxRow(SQLModel, table=True):
    """What Slack or Alertmanager sent, stored before it is answered and processed behind."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("kind", "key", name="uq_inbox_kind_key"),
        Index(
            "ix_inbox_waiting",
            "id",
            sqlite_where=text("processed_at IS NULL AND failed_at IS NULL"),
            postgresql_where=text("processed_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    key: str = Field(max_length=128)  # the sender's identity of what it sent: stored once
    payload: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_column=_utc())
    attempts: int = Field(default=0)
    not_before: datetime | None = Field(default=None, sa_column=_utc_nullable())
    claimed_until: datetime | None = Field(default=None, sa_column=_utc_nullable())
    processed_at: datetime | None = Field(default=None, sa_column=_utc_nullable())
    failed_at: datetime | None = Field(default=None, sa_column=_utc_nullable())
    last_error: str | None = Field(default=None, max_length=500)
    # What processing did so far, as JSON (for alerts: one outcome per alert already handled).
    outcomes: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))


class OutboxChannelRow(SQLModel, table=True):
    """Which replica delivers a channel's queue, until when: one sender per channel."""

    __tablename__ = "outbox_channels"

    channel_id: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=64)
    held_until: datetime = Field(sa_column=_utc())


class ConfigVersionRow(SQLModel, table=True):
    """A ConfigMap's content as rollbot saw or wrote it; `target` is its label (kind/name -n ns)."""

    __tablename__ = "config_versions"
    __table_args__ = (
        UniqueConstraint("target", "version", name="uq_config_versions_target_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    target: str = Field(max_length=400)
    version: int
    sha256: str = Field(max_length=64)
    data: str = Field(sa_column=Column(Text, nullable=False))
    recorded_at: datetime = Field(sa_column=_utc())


class DueItemRow(SQLModel, table=True):
    """An obligation that reminders chase until it is met; claimed with SKIP LOCKED."""

    __tablename__ = "due_items"
    __table_args__ = (
        UniqueConstraint("request_id", "kind", name="uq_due_items_request_kind"),
        Index("ix_due_items_open", "done_at", "due_at"),
        # the scheduler's claim: the chased ones only, soonest first
        Index(
            "ix_due_items_pending",
            "due_at",
            sqlite_where=text("done_at IS NULL"),
            postgresql_where=text("done_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    request_id: str = Field(max_length=32)
    due_at: datetime = Field(sa_column=_utc())
    stage: int = 0
    done_at: datetime | None = Field(default=None, sa_column=_utc_nullable())


class DrillRow(SQLModel, table=True):
    """A rollback drill; its full record is JSON beside the columns the gate and reports query."""

    __tablename__ = "drills"
    __table_args__ = (
        Index("ix_drills_target_started", "target_kind", "target_name", "started_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    target_kind: str = Field(max_length=32)
    target_name: str = Field(max_length=300)
    target_namespace: str | None = Field(default=None, max_length=100)
    state: str = Field(max_length=16)
    version: int = Field(default=0)
    started_at: datetime = Field(sa_column=_utc())
    finished_at: datetime | None = Field(default=None, sa_column=_utc_nullable())
    data: str = Field(sa_column=Column(Text, nullable=False))


class ReadinessDecisionRow(SQLModel, table=True):
    """Each answer the readiness gate gave a deploy, for the monthly report."""

    __tablename__ = "readiness_decisions"

    id: int | None = Field(default=None, primary_key=True)
    target: str = Field(max_length=420)
    release: str = Field(max_length=300)
    ready: bool
    decided_at: datetime = Field(sa_column=_utc())
    data: str = Field(sa_column=Column(Text, nullable=False))
