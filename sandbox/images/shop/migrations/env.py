"""The shop application's Alembic environment: DATABASE_URL (asyncpg), one transaction per
migration; offline (`--sql`) it prints the PostgreSQL statements without connecting."""

import asyncio
import logging.config
import os

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config
if config.config_file_name:
    logging.config.fileConfig(config.config_file_name)


def _online(conn: Connection) -> None:
    context.configure(connection=conn, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _connect() -> None:
    engine = create_async_engine(os.environ["DATABASE_URL"])
    async with engine.connect() as conn:
        await conn.run_sync(_online)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(dialect_name="postgresql", literal_binds=True, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_connect())
