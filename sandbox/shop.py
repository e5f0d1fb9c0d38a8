"""The shop application of the database scenarios: its image's files (a real Alembic project,
sandbox/images/shop) and its database as its deploy pipeline leaves it, migrated to the newest
schema with orders placed before the newer migrations."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

SHOP_IMAGE_FILES = Path(__file__).resolve().parent / "images" / "shop"
OLD_IMAGE = "registry.example/shop:1.0.0"
NEW_IMAGE = "registry.example/shop:2.0.0"
HEAD = "0003_drop_note"


def alembic(url: str, *args: str) -> str:
    """The shop's own `alembic`, as its deploy pipeline runs it."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "DATABASE_URL": url, "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    done = subprocess.run(
        ["alembic", *args],
        cwd=SHOP_IMAGE_FILES,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def sql(url: str, statement: str) -> object:
    conn = await asyncpg.connect(_plain(url), timeout=10)
    try:
        return await conn.fetchval(statement, timeout=30)
    finally:
        await conn.close()


async def migrated_shop(url: str) -> None:
    """Orders placed at the first schema (three, two with notes), then the newer migrations."""
    await asyncio.to_thread(alembic, url, "upgrade", "0001_orders")
    await sql(
        url,
        "INSERT INTO orders (item, note) VALUES ('mug', 'gift'), ('tea', NULL), ('pot', 'fragile')",
    )
    await asyncio.to_thread(alembic, url, "upgrade", "head")
