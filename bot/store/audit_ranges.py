"""Range checks of the stored audit chain, several at once: the fast path of `audit verify`.

Each range is checked for two things: every entry's hash over its stored bytes, and every
prev_hash linking to the entry before. The query columns need no check row by row: the
database computes them from the hashed body, and `columns_from_body` makes sure it still does
(the schema, read once). On PostgreSQL the database server hashes the stored bytes with its
built-in sha256 (functions named with pg_catalog, so nothing a user created can stand in), one
connection a range. On SQLite, which has no sha256, each range is hashed here, by a separate
Python process when there are several ranges (`python -m bot.store.audit_range_worker`, which reads
its range as JSON on stdin), because one interpreter hashes on one core.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.audit.ranges import MIN_RANGE, RangeCheck, split
from bot.store.audit_range_worker import check_sqlite_range, from_json

# A worker that has not answered by then is treated as a failed range (the exact walk follows).
WORKER_TIMEOUT_SECONDS = 900.0

_POSTGRES_RANGE = """
SELECT count(*) = :n AND min(seq) = :lo AND max(seq) = :hi
   AND bool_and(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(prev_hash || body,
                'UTF8')), 'hex') = hash)
   AND bool_and(before IS NULL OR prev_hash = before)
FROM (SELECT seq, prev_hash, hash, body, pg_catalog.lag(hash) OVER (ORDER BY seq) AS before
      FROM audit_entries WHERE seq BETWEEN :lo AND :hi) AS r
"""

_POSTGRES_ENDS = (
    "SELECT seq, prev_hash, hash FROM audit_entries "
    "WHERE seq = :lo OR seq = :hi OR seq = ANY(:watch)"
)


async def _postgres_range(
    engine: AsyncEngine, lo: int, hi: int, watch: Sequence[int]
) -> RangeCheck:
    inside = [seq for seq in watch if lo <= seq <= hi]
    try:
        async with engine.connect() as conn:
            bounds = {"lo": lo, "hi": hi, "n": hi - lo + 1}
            if not (await conn.execute(text(_POSTGRES_RANGE), bounds)).scalar():
                return RangeCheck(lo, hi, False)
            rows = await conn.execute(text(_POSTGRES_ENDS), {"lo": lo, "hi": hi, "watch": inside})
            found = {seq: (prev_hash, digest) for seq, prev_hash, digest in rows}
    except DBAPIError:  # unreadable: the walk says what is wrong
        return RangeCheck(lo, hi, False)
    if lo not in found or hi not in found:
        return RangeCheck(lo, hi, False)
    seen = {seq: found[seq][1] for seq in inside if seq in found}
    return RangeCheck(lo, hi, True, found[lo][0], found[hi][1], seen)


async def _sqlite_worker(path: str, lo: int, hi: int, watch: Sequence[int]) -> RangeCheck:
    job = json.dumps({"path": path, "lo": lo, "hi": hi, "watch": list(watch)}).encode()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.store.audit_range_worker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(job), WORKER_TIMEOUT_SECONDS)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return RangeCheck(lo, hi, False)
    if proc.returncode != 0:
        return RangeCheck(lo, hi, False)
    return from_json(json.loads(out))


# What migration 0005 made each query column: (column, what its expression must mention).
_DERIVED = {
    "at": ("at",),
    "actor_id": ("actor", "id"),
    "actor_name": ("actor", "name"),
    "action": ("action",),
    "incident_id": ("incident_id",),
    "request_id": ("request_id",),
}
_PG_AT = "SELECT ((body::jsonb) ->> 'at')::timestamptz"


async def columns_from_body(conn: AsyncConnection) -> bool:
    """Whether the database still computes every query column from the body (a column turned
    back into plain data could hold anything, and then the walk compares them row by row)."""
    if conn.dialect.name == "sqlite":
        return await _sqlite_columns_from_body(conn)
    return await _postgres_columns_from_body(conn)


async def _sqlite_columns_from_body(conn: AsyncConnection) -> bool:
    ddl = (
        await conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'audit_entries'")
        )
    ).scalar()
    info = await conn.execute(text("PRAGMA table_xinfo(audit_entries)"))
    stored = {str(row[1]) for row in info if int(row[6]) == 3}  # 3: generated, stored
    ddl = " ".join(str(ddl or "").split())
    return set(_DERIVED) <= stored and all(
        f"$.{'.'.join(path)}" in ddl for path in _DERIVED.values()
    )


async def _postgres_columns_from_body(conn: AsyncConnection) -> bool:
    rows = await conn.execute(
        text(
            "SELECT a.attname, a.attgenerated, pg_catalog.pg_get_expr(d.adbin, d.adrelid) "
            "FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d "
            "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = 'audit_entries'::regclass AND a.attnum > 0 "
            "AND NOT a.attisdropped"
        )
    )
    found = {
        str(name): (kind.decode() if isinstance(kind, bytes) else str(kind), str(expr or ""))
        for name, kind, expr in rows
    }
    source = (
        await conn.execute(
            text(
                "SELECT prosrc FROM pg_catalog.pg_proc WHERE proname = 'audit_entry_at' "
                "AND provolatile = 'i'"
            )
        )
    ).scalar()
    if " ".join(str(source or "").split()) != _PG_AT:
        return False
    return all(
        found.get(column, ("", ""))[0] == "s"
        and all(f"'{part}'" in found[column][1] or part == "at" for part in path)
        for column, path in _DERIVED.items()
    )


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


async def check_ranges(
    engine: AsyncEngine,
    last_seq: int,
    watch: Sequence[int],
    workers: int | None = None,
    min_range: int = MIN_RANGE,
) -> list[RangeCheck]:
    """The chain 1..last_seq checked in ranges, side by side."""
    ranges = split(last_seq, workers or default_workers(), min_range)
    url = make_url(engine.url)
    if url.get_backend_name() != "sqlite":
        return list(
            await asyncio.gather(*(_postgres_range(engine, lo, hi, watch) for lo, hi in ranges))
        )
    path = str(url.database or "")
    if len(ranges) == 1:
        lo, hi = ranges[0]
        return [await asyncio.to_thread(check_sqlite_range, path, lo, hi, watch)]
    return list(await asyncio.gather(*(_sqlite_worker(path, lo, hi, watch) for lo, hi in ranges)))
