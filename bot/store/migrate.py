"""Alembic, driven on our own async connection so it runs inside a live event loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.engine import hold_named_lock

MIGRATIONS = Path(__file__).parent / "migrations"
# Alembic's own lines ("Context impl", "Running upgrade …") are at debug (bot/config/logs.py);
# what an operator needs is one line saying the schema was created, and at which revision.
log = structlog.get_logger("rollbot.database")


class SchemaError(Exception):
    """The database schema is not one this rollbot can run against; the message says why."""


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def _run(conn: Connection, fn: str, target: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    getattr(command, fn)(cfg, target)


async def upgrade(engine: AsyncEngine, target: str = "head") -> None:
    async with engine.begin() as conn:
        # Replicas starting together against an empty database migrate one after another: the
        # second finds the schema at head and does nothing, instead of failing on a table the
        # first has just created.
        await hold_named_lock(conn, "rollbot.migrate")
        await conn.run_sync(_run, "upgrade", target)


async def downgrade(engine: AsyncEngine, target: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_run, "downgrade", target)


def _undone(conn: Connection, target: str) -> list[str]:
    """The migrations a downgrade to `target` reverts, newest first, by module attribute
    `touches_audit_log` (a migration that creates, alters or drops the audit tables says so)."""
    script = ScriptDirectory.from_config(alembic_config())
    current = MigrationContext.configure(conn).get_current_revision()
    if current is None:
        return []
    kept = {"base"} if target == "base" else {target, *_ancestors(script, target)}
    return [
        rev.revision
        for rev in script.iterate_revisions(current, "base")
        if rev.revision not in kept and getattr(rev.module, "touches_audit_log", False)
    ]


def _ancestors(script: ScriptDirectory, revision: str) -> set[str]:
    found = script.get_revision(revision)
    if found is None:
        raise SchemaError(f"no migration {revision!r}; `rollbot db current` lists the head")
    return {r.revision for r in script.iterate_revisions(found.revision, "base")}


@dataclass(frozen=True)
class AuditLoss:
    """What a downgrade would destroy of the audit log: none when it keeps the audit tables."""

    migrations: tuple[str, ...]
    entries: int
    checkpoints: int


async def audit_loss(engine: AsyncEngine, target: str) -> AuditLoss:
    async with engine.connect() as conn:
        undone = tuple(await conn.run_sync(_undone, target))
        if not undone:
            return AuditLoss((), 0, 0)
        entries = (await conn.execute(text("SELECT count(*) FROM audit_entries"))).scalar_one()
        marks = (await conn.execute(text("SELECT count(*) FROM audit_checkpoints"))).scalar_one()
    return AuditLoss(undone, int(entries), int(marks))


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str
    known: bool

    @property
    def empty(self) -> bool:
        return self.current is None

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _status(conn: Connection) -> SchemaStatus:
    script = ScriptDirectory.from_config(alembic_config())
    current = MigrationContext.configure(conn).get_current_revision()
    head = script.get_current_head()
    assert head is not None
    known = current is None or any(r.revision == current for r in script.walk_revisions())
    return SchemaStatus(current=current, head=head, known=known)


async def schema_status(engine: AsyncEngine) -> SchemaStatus:
    async with engine.connect() as conn:
        return await conn.run_sync(_status)


async def ensure_schema(engine: AsyncEngine) -> SchemaStatus:
    """Start-up check for `rollbot serve`: migrate an empty database, refuse anything unexpected."""
    status = await schema_status(engine)
    if status.empty:
        await upgrade(engine)  # a replica that lost the race finds head and does nothing
        status = await schema_status(engine)
        log.info("database.migrated", revision=status.current)
    if not status.known:
        raise SchemaError(
            f"the database schema is at revision {status.current}, which this rollbot does not know "
            f"(newest known: {status.head}); run a newer rollbot against it"
        )
    if not status.up_to_date:
        raise SchemaError(
            f"the database schema is at revision {status.current}, older than {status.head}; "
            "run `rollbot db upgrade` first"
        )
    return status
