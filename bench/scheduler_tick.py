"""A scheduler tick with 1,000, 10,000 and 100,000 pending due items on PostgreSQL: time per
tick and per claimed item, against a bare claim (SELECT … FOR UPDATE SKIP LOCKED, then UPDATE)
in asyncpg. The claim's cost must not grow with the backlog (the pending items have a partial
index of their own), and the items drained per second are held against 2,000."""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.report import Figure
from bot.audit.keys import AuditSigner
from bot.domain import events as ev
from bot.domain.decision import DecisionInputs, decide_rollback_or_fix
from bot.domain.opening import open_rollback_request
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy, RollbackType
from bot.domain.request import TargetRef
from bot.domain.severity import Severity, declared
from bot.domain.transitions import apply
from bot.duework.reminders import OBLIGATION_KINDS, Reminders
from bot.store import migrate
from bot.store.engine import create_engine
from bot.store.tables import DueItemRow, RollbackRequestRow
from bot.store.uow import UnitOfWorkFactory

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SIZES = (1_000, 10_000, 100_000)
TICKS = 20


class _Later:
    def now(self) -> datetime:
        return T0 + timedelta(days=3)


def _template() -> Any:
    request, _ = open_rollback_request(
        request_id="RB-000000",
        channel="C1",
        requester=Person(id="U0ALICE", name="alice"),
        requester_roles=frozenset(),
        target=TargetRef(kind="deployment", name="api", namespace="prod"),
        rollback_type=RollbackType.DEPLOYMENT_LAST_VERSION,
        assessment=declared(Severity.P2, "alice"),
        policy=ApprovalPolicy(),
        reason="bench",
        now=T0,
    )
    reco = decide_rollback_or_fix(DecisionInputs(severity=Severity.P2))
    prompted, _ = apply(request, ev.PromptDecision(recommendation=reco), T0)
    return prompted


async def _fill(engine: AsyncEngine, pending: int) -> None:
    """`pending` due items over pending / 2 requests awaiting a decision, inserted in bulk."""
    template = _template()
    requests = pending // 2
    async with engine.begin() as conn:
        for start in range(0, requests, 5000):
            rows, items = [], []
            for i in range(start, min(requests, start + 5000)):
                rid = f"RB-{i:06d}"
                data = template.model_copy(update={"id": rid}).model_dump_json()
                rows.append(
                    {
                        "id": rid,
                        "channel_id": "C1",
                        "state": "awaiting_decision",
                        "version": 1,
                        "target_kind": "deployment",
                        "target_name": "api",
                        "target_namespace": "prod",
                        "requester_id": "U0ALICE",
                        "severity": "P2",
                        "created_at": T0,
                        "updated_at": T0,
                        "idempotency_key": rid,
                        "data": data,
                    }
                )
                for kind in ("decision_sla", "customer_notification"):
                    items.append(
                        {
                            "kind": kind,
                            "request_id": rid,
                            "due_at": T0 + timedelta(seconds=i),
                            "stage": 0,
                        }
                    )
            await conn.execute(insert(RollbackRequestRow.__table__), rows)  # type: ignore[attr-defined]
            await conn.execute(insert(DueItemRow.__table__), items)  # type: ignore[attr-defined]


async def _rollbot_ticks(engine: AsyncEngine, ticks: int) -> list[float]:
    uow = UnitOfWorkFactory(engine, AuditSigner(Ed25519PrivateKey.generate(), every=100))
    reminders = Reminders(
        uow,
        _Later(),
        ApprovalPolicy(),
    )
    ours: list[float] = []
    for _ in range(ticks):
        started = time.perf_counter()
        sent = await reminders.tick()
        ours.append(time.perf_counter() - started)
        assert sent == 100, sent
    return ours


async def _bare_ticks(name: str, ticks: int) -> list[float]:
    """The same claim with no rollbot: SKIP LOCKED, then one UPDATE."""
    bare: list[float] = []
    conn2 = await asyncpg.connect(host="127.0.0.1", user="postgres", database=name)
    try:
        for _ in range(ticks):
            started = time.perf_counter()
            async with conn2.transaction():
                ids = [
                    r["id"]
                    for r in await conn2.fetch(
                        "SELECT id FROM due_items WHERE done_at IS NULL AND due_at <= $1 "
                        "AND kind = ANY($2::text[]) ORDER BY due_at LIMIT 100 "
                        "FOR UPDATE SKIP LOCKED",
                        _Later().now(),
                        list(OBLIGATION_KINDS),
                    )
                ]
                await conn2.execute(
                    "UPDATE due_items SET stage = stage + 1, due_at = $1 WHERE id = ANY($2::int[])",
                    _Later().now() + timedelta(days=1),
                    ids,
                )
            bare.append(time.perf_counter() - started)
            assert len(ids) == 100
    finally:
        await conn2.close()
    return bare


async def _at(pending: int) -> tuple[float, float]:
    """Median tick of rollbot's scheduler and of the bare claim, in ms, with `pending` waiting."""
    name = f"rollbot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
    try:
        await migrate.ensure_schema(engine)
        await _fill(engine, pending)
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE due_items")
        ticks = min(TICKS, pending // 200)  # every tick claims items not yet reminded
        ours = await _rollbot_ticks(engine, ticks)
        bare = await _bare_ticks(name, ticks)
    finally:
        await engine.dispose()
        admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return statistics.median(ours) * 1000, statistics.median(bare) * 1000


async def measure() -> list[Figure]:
    ticks = {size: await _at(size) for size in SIZES}
    smallest = ticks[SIZES[0]][0]
    figures: list[Figure] = []
    for size, (tick, base) in ticks.items():
        figures.append(
            Figure(
                f"scheduler tick, {size:,} due items pending (PostgreSQL), 100 claimed",
                tick,
                base,
                "ms",
                "bare SKIP LOCKED claim + UPDATE",
            )
        )
    largest = ticks[SIZES[-1]][0]
    figures.append(
        Figure(
            f"scheduler tick at {SIZES[-1]:,} pending against {SIZES[0]:,} pending",
            largest,
            smallest,
            "ms",
            f"tick at {SIZES[0]:,} pending",
            "within 1.5x (the claim does not grow with the backlog)",
            largest <= 1.5 * smallest,
        )
    )
    drained = 100 / (largest / 1000)
    bare_drained = 100 / (ticks[SIZES[-1]][1] / 1000)
    figures.append(
        Figure(
            f"due items drained per second at {SIZES[-1]:,} pending "
            "(reminder rendered, outbox row written)",
            drained,
            bare_drained,
            "items/s",
            "bare claim",
            "at least 2,000/s",
            drained >= 2000,
        )
    )
    return figures
