"""Alembic environment: uses the connection handed over in config.attributes when there is one."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from bot.store.engine import create_engine

config = context.config


def _migrate(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=None, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _online(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_migrate)
    await engine.dispose()


given = config.attributes.get("connection")
if given is not None:
    _migrate(given)
else:
    asyncio.run(_online(config.get_main_option("sqlalchemy.url") or ""))
