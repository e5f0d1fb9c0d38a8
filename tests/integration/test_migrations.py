"""Alembic migrations on SQLite and PostgreSQL, and the start-up schema check of `rollbot serve`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from structlog.testing import capture_logs

from bot.store import migrate
from bot.store.engine import create_engine

TABLES = {
    "incidents",
    "rollback_requests",
    "audit_entries",
    "audit_head",
    "audit_checkpoints",
    "config_versions",
    "due_items",
    "outbox",
    "outbox_channels",
    "inbox",
    "drills",
    "readiness_decisions",
}


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    return names - {"alembic_version"}


async def test_upgrade_from_empty_then_downgrade_to_base(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert (await migrate.schema_status(engine)).empty
        await migrate.upgrade(engine)
        status = await migrate.schema_status(engine)
        assert status.up_to_date
        assert await _tables(database_url) == TABLES

        await migrate.downgrade(engine, "base")
        assert (await migrate.schema_status(engine)).empty
        assert await _tables(database_url) == set()

        await migrate.upgrade(engine)  # and back up again: downgrade left nothing behind
        assert (await migrate.schema_status(engine)).up_to_date
    finally:
        await engine.dispose()


async def test_ensure_schema_migrates_an_empty_database(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with capture_logs() as logs:
            status = await migrate.ensure_schema(engine)
            await migrate.ensure_schema(engine)  # migrated already: nothing to say
        assert status.up_to_date
        assert await _tables(database_url) == TABLES
        said = [e for e in logs if e["event"] == "database.migrated"]
        assert said == [
            {"event": "database.migrated", "revision": status.head, "log_level": "info"}
        ]
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_replicas_starting_together_migrate_an_empty_database_once(postgres_url: str) -> None:
    """Three replicas of a fresh deployment start at the same moment against one empty
    database: each one's start-up succeeds and the schema is at head once."""
    engines = [create_engine(postgres_url) for _ in range(3)]
    try:
        # without taking turns the replicas' migrations block one another: a guard, not a timing
        starting = asyncio.gather(*(migrate.ensure_schema(e) for e in engines))
        statuses = await asyncio.wait_for(starting, 120)
        assert all(s.up_to_date for s in statuses)
        async with engines[0].connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert [v[0] for v in versions] == [statuses[0].head]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_ensure_schema_refuses_a_newer_unknown_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE alembic_version SET version_num = '9999_from_the_future'")
            )
        with pytest.raises(migrate.SchemaError, match="does not know"):
            await migrate.ensure_schema(engine)
    finally:
        await engine.dispose()


async def test_upgrading_gives_each_target_its_newest_open_request(database_url: str) -> None:
    """Requests opened before the one-open-request rule: the newest open one per target holds
    the target, older ones and ended ones hold nothing, and the rule holds from then on."""
    engine = create_engine(database_url)
    rows = [  # id, state, created (minute), namespace
        ("RB-OLD", "awaiting_approval", 1, "prod"),
        ("RB-NEW", "awaiting_decision", 2, "prod"),
        ("RB-DONE", "completed", 3, "prod"),
        ("RB-STG", "approved", 4, "staging"),
    ]
    try:
        await migrate.upgrade(engine, "0001")
        async with engine.begin() as conn:
            for rid, state, minute, namespace in rows:
                await conn.execute(
                    text(
                        "INSERT INTO rollback_requests (id, channel_id, state, version, "
                        "target_kind, target_name, target_namespace, requester_id, severity, "
                        "created_at, updated_at, idempotency_key, data) VALUES (:id, 'C1', "
                        ":state, 1, 'deployment', 'api', :ns, 'U1', 'P2', :at, :at, :id, '{}')"
                    ),
                    {
                        "id": rid,
                        "state": state,
                        "ns": namespace,
                        "at": datetime(2026, 11, 27, 9, minute, tzinfo=UTC),
                    },
                )
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            held = dict(
                (await conn.execute(text("SELECT id, open_target FROM rollback_requests"))).all()
            )
        assert held == {
            "RB-OLD": None,
            "RB-NEW": "deployment/api -n prod",
            "RB-DONE": None,
            "RB-STG": "deployment/api -n staging",
        }
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE rollback_requests SET open_target = :t WHERE id = 'RB-OLD'"),
                    {"t": "deployment/api -n prod"},
                )
        await migrate.downgrade(engine, "0001")  # and back: the column goes, the rows stay
        async with engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM rollback_requests"))).scalar()
        assert count == 4
    finally:
        await engine.dispose()
