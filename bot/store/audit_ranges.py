"""Range checks of the stored audit chain, several at once: the fast path of `audit verify`.

Each range is checked for three things: every entry's hash over its stored bytes, every
prev_hash linking to the entry before, and the query columns agreeing with the hashed body
(set-based, one statement). On PostgreSQL the database server hashes the stored bytes with its
built-in sha256 (functions named with pg_catalog, so nothing a user created can stand in), one
connection a range. On SQLite, which has no sha256, each range is hashed here, by a separate
Python process when there are several ranges (`python -m bot.store.audit_ranges`, which reads its
range as JSON on stdin), because one interpreter hashes on one core.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit.ranges import MIN_RANGE, RangeCheck, hash_rows, split

# A worker that has not answered by then is treated as a failed range (the exact walk follows).
WORKER_TIMEOUT_SECONDS = 900.0

# SQLite stores `at` as "YYYY-MM-DD HH:MM:SS.ffffff" in UTC; the body holds Python's isoformat,
# which leaves out a zero fraction and ends in "+00:00".
_SQLITE_COLUMNS_DISAGREE = """
SELECT 1 FROM audit_entries WHERE seq BETWEEN ? AND ? AND (
  json_extract(body, '$.action', '$.incident_id', '$.request_id', '$.actor.id', '$.actor.name',
               '$.seq')
    IS NOT json_array(action, incident_id, request_id, actor_id, actor_name, seq)
  OR replace(CASE WHEN substr(at, 20) = '.000000' THEN substr(at, 1, 19) ELSE at END, ' ', 'T')
     || '+00:00' IS NOT json_extract(body, '$.at')
) LIMIT 1
"""

_SQLITE_ROWS = (
    "SELECT seq, prev_hash, hash, CAST(body AS BLOB) FROM audit_entries "
    "WHERE seq BETWEEN ? AND ? ORDER BY seq"
)

_POSTGRES_RANGE = """
SELECT count(*) = :n AND min(seq) = :lo AND max(seq) = :hi
   AND bool_and(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(prev_hash || body,
                'UTF8')), 'hex') = hash)
   AND bool_and(before IS NULL OR prev_hash = before)
   AND bool_and((b ->> 'action', b ->> 'incident_id', b ->> 'request_id',
                 b -> 'actor' ->> 'id', b -> 'actor' ->> 'name', (b ->> 'seq')::bigint,
                 (b ->> 'at')::timestamptz)
       IS NOT DISTINCT FROM (action, incident_id, request_id, actor_id, actor_name, seq, at))
FROM (SELECT seq, prev_hash, hash, body, action, incident_id, request_id, actor_id, actor_name,
             at, pg_catalog.lag(hash) OVER (ORDER BY seq) AS before, body::jsonb AS b
      FROM audit_entries WHERE seq BETWEEN :lo AND :hi) AS r
"""

_POSTGRES_ENDS = (
    "SELECT seq, prev_hash, hash FROM audit_entries "
    "WHERE seq = :lo OR seq = :hi OR seq = ANY(:watch)"
)


def check_sqlite_range(path: str, lo: int, hi: int, watch: Collection[int]) -> RangeCheck:
    """Hash one range of a SQLite chain here, then ask SQLite whether any column disagrees."""
    db = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        check = hash_rows(db.execute(_SQLITE_ROWS, (lo, hi)), lo, hi, set(watch))
        if check.sound and db.execute(_SQLITE_COLUMNS_DISAGREE, (lo, hi)).fetchone() is not None:
            return RangeCheck(lo, hi, False)
        return check
    except sqlite3.Error:  # a body that is not JSON: the walk says which entry
        return RangeCheck(lo, hi, False)
    finally:
        db.close()


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
    except DBAPIError:  # a body that is not JSON, a column that does not cast: the walk says which
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
        "bot.store.audit_ranges",
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
    return _from_json(json.loads(out))


def _to_json(check: RangeCheck) -> dict[str, Any]:
    return {
        "lo": check.lo,
        "hi": check.hi,
        "sound": check.sound,
        "first_prev": check.first_prev,
        "last_hash": check.last_hash,
        "seen": {str(k): v for k, v in check.seen.items()},
    }


def _from_json(data: dict[str, Any]) -> RangeCheck:
    seen = {int(k): str(v) for k, v in dict(data["seen"]).items()}
    return RangeCheck(
        int(data["lo"]),
        int(data["hi"]),
        bool(data["sound"]),
        str(data["first_prev"]),
        str(data["last_hash"]),
        seen,
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


def main() -> None:
    """One range of a SQLite chain, asked for on stdin, answered as JSON on stdout."""
    job = json.loads(sys.stdin.read())
    check = check_sqlite_range(str(job["path"]), int(job["lo"]), int(job["hi"]), job["watch"])
    sys.stdout.write(json.dumps(_to_json(check)))


if __name__ == "__main__":
    main()
