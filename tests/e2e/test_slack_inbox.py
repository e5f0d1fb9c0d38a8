"""Ack first, work behind: what Slack sends is stored in one statement and answered; a worker
does the work and tells the person, through bugs, restarts and several replicas."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.domain.policy import ApprovalPolicy
from bot.domain.targets import target_from
from bot.store.tables import InboxRow, RollbackRequestRow
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor, ScriptedTarget
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import SIGNING_SECRET, FakeClock, _admin
from tests.helpers import NOTHING, another_replica, audit_actions, inbox_rows, stored

API = target_from("deployment/api", "prod")
OPEN = 'deployment/api -n prod --reason "5xx since 1.3.0"'


class _ExplodingCatalog(dict[str, ScriptedTarget]):
    """A bug of ours behind the preflight (not a refusal of the outside world's)."""

    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("the catalog exploded")


def _told(slack: SandboxSlack, user: str) -> list[str]:
    return [e["text"] for e in slack.state.ephemeral_for(user)]


async def _inbox(runtime: Runtime) -> list[tuple[int, bool, bool]]:
    """(attempts, processed, failed) of each Slack inbox row."""
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(InboxRow.attempts, InboxRow.processed_at, InboxRow.failed_at)
            .where(col(InboxRow.kind) == "slack")
            .order_by(col(InboxRow.id))
        )
    return [(int(a), p is not None, f is not None) for a, p, f in rows]


async def test_processing_that_fails_is_tried_again_then_the_person_is_told(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    executor: ScriptedExecutor,
) -> None:
    audit_before = await audit_actions(runtime)
    executor.targets = _ExplodingCatalog()
    reply = await driver.command("U0ALICE", channel, OPEN)
    assert "Opening a rollback request" in reply.json()["text"]

    await runtime.settle()
    assert await _inbox(runtime) == [(1, False, False)]  # postponed, not dropped
    assert _told(slack, "U0ALICE") == []  # not yet: it is tried again first
    clock.advance(seconds=2)
    await runtime.settle()
    clock.advance(seconds=4)
    await runtime.settle()

    assert await _inbox(runtime) == [(3, False, True)]  # its last try: marked failed, kept
    [said] = _told(slack, "U0ALICE")
    assert said.startswith(":boom: rollbot could not finish this after 3 tries.")
    assert "correlation id `inbox-" in said
    assert "Traceback" not in said
    assert await stored(runtime) == NOTHING
    assert await audit_actions(runtime) == audit_before  # the audit log is as it was
    clock.advance(minutes=5)
    await runtime.settle()
    assert len(_told(slack, "U0ALICE")) == 1  # told once; a failed row is not retried


async def test_a_stopped_worker_leaves_commands_that_a_restarted_one_finishes(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    reply = await driver.command("U0ALICE", channel, OPEN)
    assert reply.status == 200
    assert await inbox_rows(runtime) == 1
    await runtime.close()  # the process stops before its worker ran: only the row is there

    restarted = await another_replica(runtime, clock, policy, executor)
    try:
        assert await restarted.workers.slack.drain() == 1
        await restarted.settle()
        [request] = await restarted.queries.history(API)
        assert request.requester.id == "U0ALICE"
        assert any(f"Rollback request {request.id} opened" in t for t in _told(slack, "U0ALICE"))
        assert await restarted.workers.slack.drain() == 0  # nothing left, nothing done twice
    finally:
        await restarted.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_three_replicas_process_every_stored_command_exactly_once(
    runtime: Runtime,
    slack: SandboxSlack,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    names = [f"svc{i}" for i in range(24)]
    for name in names:
        executor.targets[f"deployment/{name} -n prod"] = ScriptedTarget(["1", "2"], live="2")
    general = slack.state.add_channel("general", ("U0ALICE", "U0BOB"))
    replicas = [runtime] + [
        await another_replica(runtime, clock, policy, executor) for _ in range(2)
    ]
    async with contextlib.AsyncExitStack() as stack:
        for extra in replicas[1:]:
            stack.push_async_callback(extra.close)
        drivers = [
            await stack.enter_async_context(
                SlackDriver(await r.serve_http(), SIGNING_SECRET, slack.state)
            )
            for r in replicas
        ]
        replies = await asyncio.gather(
            *(
                drivers[i % 3].command("U0ALICE", general, f'deployment/{n} -n prod --reason "x"')
                for i, n in enumerate(names)
            )
        )
        assert [r.status for r in replies] == [200] * len(names)
        finished = await asyncio.gather(*(r.workers.slack.drain() for r in replicas))

    assert sum(finished) == len(names)  # each row finished by exactly one replica
    assert await _inbox(runtime) == [(0, True, False)] * len(names)
    async with runtime.engine.connect() as conn:
        opened = await conn.execute(select(func.count()).select_from(RollbackRequestRow))
    assert opened.scalar_one() == len(names)
    answers = [t for t in _told(slack, "U0ALICE") if "opened for" in t]
    assert len(answers) == len(names)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_command_after_postgresql_dropped_every_connection_is_still_stored(
    runtime: Runtime, driver: SlackDriver, channel: str, database_url: str
) -> None:
    """No pre-ping on the answering path: the first use of a dead pooled connection fails, and
    the inbox tries once more on a fresh one rather than tell the person to try again."""
    first = await driver.command("U0ALICE", channel, OPEN)
    assert "Opening a rollback request" in first.json()["text"]
    await runtime.settle()
    admin = await _admin()
    try:
        name = database_url.rsplit("/", 1)[1]
        dropped = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            name,
        )
    finally:
        await admin.close()
    assert dropped >= 1  # the pool held connections, and the server closed them all

    again = await driver.command("U0BOB", channel, 'deployment/web -n prod --reason "5xx"')
    assert "Opening a rollback request" in again.json()["text"]  # stored, not "try again"
    assert await inbox_rows(runtime, "slack") == 2
