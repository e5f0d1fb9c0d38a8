"""Alembic migrations on SQLite and PostgreSQL, and the start-up schema check of `rollbot serve`."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

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
        status = await migrate.ensure_schema(engine)
        assert status.up_to_date
        assert await _tables(database_url) == TABLES
    finally:
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
