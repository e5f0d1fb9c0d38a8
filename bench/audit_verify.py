"""`rollbot audit verify` over a million entries, against a bare hashlib chain over the same bytes."""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.report import Figure
from bot.audit.chain import GENESIS, entry_body, entry_hash
from bot.store import migrate
from bot.store.engine import create_engine
from bot.usecases.audit_export import verify_database

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
        rows.append(
            (
                seq,
                at.strftime("%Y-%m-%d %H:%M:%S.%f"),
                "U0BOB",
                "bob",
                "approval.given",
                f"INC-{seq % 5000:06d}",
                request,
                prev,
                digest,
                body.decode(),
            )
        )
        prev = digest
    return rows


def _bare(bodies: list[bytes]) -> str:
    prev = GENESIS
    for body in bodies:
        prev = hashlib.sha256(prev.encode("ascii") + body).hexdigest()
    return prev


async def measure(n: int = 1_000_000) -> list[Figure]:
    folder = Path(tempfile.mkdtemp(prefix="rollbot-bench-audit-"))
    path = folder / "audit.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate.ensure_schema(engine)
    rows = _chain(n)
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO audit_entries (seq, at, actor_id, actor_name, action, incident_id, "
            "request_id, prev_hash, hash, body) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    bodies = [str(r[-1]).encode() for r in rows]
    head = str(rows[-1][-2])
    del rows

    started = time.perf_counter()
    verdict = await verify_database(engine, None)
    ours = time.perf_counter() - started
    if not (verdict.ok and verdict.count == n and verdict.head == head):
        raise RuntimeError(f"the benchmark chain did not verify: {verdict.render()}")

    started = time.perf_counter()
    assert _bare(bodies) == head
    bare = time.perf_counter() - started
    await engine.dispose()
    return [
        Figure(
            f"audit verify over {n:,} entries (SQLite)",
            n / ours,
            n / bare,
            "entries/s",
            "bare hashlib chain, bytes in memory",
            "at least 0.5x",
            n / ours >= 0.5 * n / bare,
        )
    ]
