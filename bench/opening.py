"""Opening throughput on PostgreSQL: requests opened end to end (preflight, roles, the incident
channel checked, the request, its audit entries, its due items and its card queued in the
outbox) per second, sustained, over distinct targets, as the inbox worker runs them.

Also the audit head's lock hold time (from the statement that takes it to the commit that
frees it) and the statements per opened request, counted on the engine. The baseline is a bare
asyncpg transaction writing one row each into the request, audit and outbox tables, at the
same concurrency.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event

from bench.ack import _database, _quantile
from bench.report import Figure
from bot.audit.keys import AuditSigner
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy
from bot.domain.severity import Severity
from bot.domain.targets import rollback_type_for, target_from
from bot.ports import SystemClock
from bot.store import migrate
from bot.store.engine import create_engine
from bot.store.uow import UnitOfWorkFactory
from bot.usecases.commands import OpenRollback, Origin
from bot.usecases.opening import RollbackService
from integrations.slack.channels import SlackChannelDirectory
from integrations.slack.delivery import client_for
from integrations.slack.roles import SlackRoleDirectory
from sandbox.executor import ScriptedExecutor, ScriptedTarget
from sandbox.slack.server import SandboxSlack

AT_ONCE = 16  # the Slack inbox worker's lanes
ALICE = Person(id="U0ALICE", name="alice")


class _Counted:
    """Statements run, and how long each transaction held the audit head."""

    def __init__(self, engine: Any) -> None:
        self.statements = 0
        self.holds: list[float] = []
        self._taken: dict[int, float] = {}
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._statement)
        event.listen(sync, "commit", self._commit)

    def _statement(self, conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        self.statements += 1
        if sql.lstrip().startswith("UPDATE audit_head"):
            self._taken.setdefault(id(conn.connection), time.perf_counter())

    def _commit(self, conn: Any) -> None:
        taken = self._taken.pop(id(conn.connection), None)
        if taken is not None:
            self.holds.append((time.perf_counter() - taken) * 1000)


async def _ours(
    database_url: str, api: str, token: str, channel: str, seconds: float
) -> tuple[float, _Counted]:
    engine = create_engine(database_url)
    await migrate.ensure_schema(engine)
    counted = _Counted(engine)
    uow = UnitOfWorkFactory(engine, AuditSigner(Ed25519PrivateKey.generate(), every=100))
    client = client_for(token, api)
    policy, clock = ApprovalPolicy(), SystemClock()
    targets = 200 * int(seconds) + 1000
    executor = ScriptedExecutor(
        {
            f"deployment/app-{i} -n prod": ScriptedTarget(revisions=["1", "2"], live="2")
            for i in range(targets)
        }
    )
    service = RollbackService(
        uow=uow,
        clock=clock,
        policy=policy,
        roles=SlackRoleDirectory(policy, client, clock),
        channels=SlackChannelDirectory(client),
        executors={"deployment": executor},
    )
    origin = Origin(channel_id=channel, channel_name="inc-20261127-bench")
    next_target = iter(range(targets))
    opened = 0
    deadline = 0.0

    async def lane() -> None:
        nonlocal opened
        while time.perf_counter() < deadline:
            i = next(next_target)
            target = target_from(f"deployment/app-{i}", "prod")
            command = OpenRollback(
                target=target,
                rollback_type=rollback_type_for(target, None),
                to_revision=None,
                severity=Severity.P2,
                reason="bench: 5xx above 5%",
                ticket=None,
            )
            await service.open_request(
                command, actor=ALICE, origin=origin, idempotency_key=uuid.uuid4().hex
            )
            opened += 1

    deadline = time.perf_counter() + 2  # warm up: pools, the role lookup's cache
    await asyncio.gather(*(lane() for _ in range(AT_ONCE)))
    opened, counted.statements, counted.holds = 0, 0, []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(lane() for _ in range(AT_ONCE)))
    took = time.perf_counter() - started
    await engine.dispose()
    counted.statements = round(counted.statements / max(opened, 1))
    return opened / took, counted


async def _bare(database_url: str, seconds: float) -> float:
    """One transaction a request: a row each in the request, audit and outbox tables."""
    dsn = database_url.replace("postgresql+asyncpg", "postgresql")
    pool = await asyncpg.create_pool(dsn, min_size=AT_ONCE, max_size=AT_ONCE)
    await pool.execute("CREATE TABLE bare_requests (id text PRIMARY KEY, data text)")
    await pool.execute("CREATE TABLE bare_audit (seq bigserial PRIMARY KEY, body text)")
    await pool.execute("CREATE TABLE bare_outbox (id bigserial PRIMARY KEY, payload text)")
    done = 0
    deadline = time.perf_counter() + seconds

    async def lane() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            async with pool.acquire() as conn, conn.transaction():
                rid = uuid.uuid4().hex
                await conn.execute("INSERT INTO bare_requests VALUES ($1, $2)", rid, "{}")
                await conn.execute("INSERT INTO bare_audit (body) VALUES ($1)", rid)
                await conn.execute("INSERT INTO bare_outbox (payload) VALUES ($1)", rid)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(AT_ONCE)))
    took = time.perf_counter() - started
    await pool.close()
    return done / took


async def measure(quick: bool = False) -> list[Figure]:
    seconds = 5.0 if quick else 30.0
    slack = SandboxSlack()
    api = await slack.start()
    slack.state.add_user("U0ALICE", "alice")
    channel = slack.state.add_channel("inc-20261127-bench", ("U0ALICE",))
    try:
        async with _database() as url:
            rate, counted = await _ours(url, api, slack.state.token, channel, seconds)
        async with _database() as url:
            bare = await _bare(url, seconds)
    finally:
        await slack.stop()
    holds = counted.holds or [0.0]
    return [
        Figure(
            f"requests opened end to end per second, {seconds:.0f} s, PostgreSQL, "
            f"{AT_ONCE} at once",
            rate,
            bare,
            "requests/s",
            "bare asyncpg: 3 inserts in one transaction",
            "at least 150/s",
            rate >= 150,
        ),
        Figure("audit head lock held, p50", statistics.median(holds), None, "ms"),
        Figure("audit head lock held, p99", _quantile(holds, 0.99), None, "ms"),
        Figure("statements per opened request", counted.statements, None, "statements"),
    ]
