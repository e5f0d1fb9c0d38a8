"""`rollbot audit verify` over a million entries, against a bare hashlib chain over the same bytes."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.report import Figure
from bot.audit.chain import GENESIS, entry_body, entry_hash
from bot.store import migrate
from bot.store.audit_ranges import default_workers
from bot.store.engine import create_engine
from bot.usecases.audit_export import verify_database

PG = "postgres@127.0.0.1:5432"
COLUMNS = ("seq", "prev_hash", "hash", "body")

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _chain(n: int) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        at = T0 + timedelta(milliseconds=seq)
        request = f"RB-{seq % 5000:06d}"
        body = entry_body(
            seq=seq,
            at=at,
            actor_id="U0BOB",
            actor_name="bob",
            action="approval.given",
            incident_id=f"INC-{seq % 5000:06d}",
            request_id=request,
            payload={"from": "awaiting_approval", "to": "approved", "role": "engineering_lead"},
        )
        digest = entry_hash(prev, body)
        rows.append((seq, prev, digest, body.decode()))
        prev = digest
    return rows


def _bare(bodies: list[bytes]) -> str:
    prev = GENESIS
    for body in bodies:
        prev = hashlib.sha256(prev.encode("ascii") + body).hexdigest()
    return prev


async def _sqlite(rows: list[tuple[object, ...]]) -> tuple[str, AsyncEngine, Callable[[], None]]:
    folder = Path(tempfile.mkdtemp(prefix="rollbot-bench-audit-"))
    path = folder / "audit.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate.ensure_schema(engine)
    with sqlite3.connect(path) as db:
        # the query columns are computed by the database from each body
        db.executemany(
            "INSERT INTO audit_entries (seq, prev_hash, hash, body) VALUES (?,?,?,?)", rows
        )
    return "SQLite", engine, lambda: shutil.rmtree(folder, ignore_errors=True)


async def _postgres(rows: list[tuple[object, ...]]) -> tuple[str, AsyncEngine, Callable[[], None]]:
    name = f"rollbot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"postgresql://{PG}/test")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    engine = create_engine(f"postgresql+asyncpg://{PG}/{name}")
    await migrate.ensure_schema(engine)
    conn = await asyncpg.connect(f"postgresql://{PG}/{name}")
    await conn.copy_records_to_table("audit_entries", records=rows, columns=list(COLUMNS))
    await conn.execute("ANALYZE audit_entries")
    await conn.close()

    def drop() -> None:
        async def _drop() -> None:
            admin = await asyncpg.connect(f"postgresql://{PG}/test")
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()

        asyncio.run(_drop())

    return "PostgreSQL", engine, drop


async def measure(n: int = 1_000_000) -> list[Figure]:
    rows = _chain(n)
    bodies = [str(r[-1]).encode() for r in rows]
    head = str(rows[-1][2])
    figures = []
    for make in (_sqlite, _postgres):
        engine_name, engine, drop = await make(rows)
        try:
            started = time.perf_counter()
            verdict = await verify_database(engine, None)
            ours = time.perf_counter() - started
            if not (verdict.ok and verdict.count == n and verdict.head == head):
                raise RuntimeError(f"the benchmark chain did not verify: {verdict.render()}")
            # the baseline runs right after, in the same process, over the same bytes
            started = time.perf_counter()
            if _bare(bodies) != head:
                raise RuntimeError("the bare chain does not reach the stored head")
            bare = time.perf_counter() - started
        finally:
            await engine.dispose()
            await asyncio.to_thread(drop)
        figures.append(
            Figure(
                f"audit verify over {n:,} entries ({engine_name}, {default_workers()} ranges)",
                n / ours,
                n / bare,
                "entries/s",
                "bare hashlib chain, bytes in memory",
                "at least 0.5x",
                n / ours >= 0.5 * n / bare,
            )
        )
    return figures
