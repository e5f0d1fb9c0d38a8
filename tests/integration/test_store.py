"""Repositories and the database's own guarantees, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.audit.keys import AuditSigner
from bot.domain import events as ev
from bot.domain.opening import open_rollback_request
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy, RollbackType
from bot.domain.request import RequestState, RollbackRequest, TargetRef
from bot.domain.severity import Severity, declared
from bot.domain.transitions import apply
from bot.store import migrate
from bot.store.engine import create_engine
from bot.store.requests import RequestMovedOnError, UnknownRequestError
from bot.store.uow import UnitOfWorkFactory

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ALICE = Person(id="U0ALICE", name="alice")


@pytest.fixture
async def uow(database_url: str, signer: AuditSigner) -> AsyncIterator[UnitOfWorkFactory]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield UnitOfWorkFactory(engine, signer)
    await engine.dispose()


def _request(request_id: str = "RB-000001") -> RollbackRequest:
    request, _ = open_rollback_request(
        request_id=request_id,
        channel="C1",
        requester=ALICE,
        requester_roles=frozenset(),
        target=TargetRef(kind="deployment", name="api", namespace="prod"),
        rollback_type=RollbackType.DEPLOYMENT_OLDER_VERSION,
        assessment=declared(Severity.P2, "alice"),
        policy=ApprovalPolicy(),
        reason="errors",
        now=NOW,
    )
    return request


async def test_request_round_trips_through_the_store(uow: UnitOfWorkFactory) -> None:
    original = _request()
    async with uow() as u:
        await u.requests.add(original, "key-1")
    async with uow() as u:
        loaded = await u.requests.get(original.id)
        by_key = await u.requests.by_idempotency_key("key-1")
        listed = await u.requests.open_in_channel("C1")
    assert loaded == original
    assert by_key == original
    assert listed == [original]


async def test_unknown_request_is_a_clear_error(uow: UnitOfWorkFactory) -> None:
    async with uow() as u:
        with pytest.raises(UnknownRequestError, match="RB-NOPE"):
            await u.requests.get("RB-NOPE")


async def test_duplicate_idempotency_key_is_refused_by_the_database(uow: UnitOfWorkFactory) -> None:
    async with uow() as u:
        await u.requests.add(_request("RB-000001"), "same-key")
    with pytest.raises(IntegrityError):
        async with uow() as u:
            await u.requests.add(_request("RB-000002"), "same-key")
    async with uow() as u:
        assert await u.requests.count() == 1


async def test_conditional_update_lets_exactly_one_writer_win(uow: UnitOfWorkFactory) -> None:
    original = _request()
    async with uow() as u:
        await u.requests.add(original, "k")
    prompted, _ = apply(original, ev.ChooseRollback(by=ALICE), NOW)
    cancelled, _ = apply(
        original, ev.Cancel(by=ALICE, roles=frozenset(), reason="false alarm"), NOW
    )
    async with uow() as u:
        await u.requests.save(prompted, expected_version=original.version)
    with pytest.raises(RequestMovedOnError, match="has moved on"):
        async with uow() as u:
            await u.requests.save(cancelled, expected_version=original.version)
    async with uow() as u:
        assert (await u.requests.get(original.id)).state is RequestState.AWAITING_APPROVAL


async def _write_then_crash(uow: UnitOfWorkFactory) -> None:
    async with uow() as u:
        await u.requests.add(_request(), "k")
        await u.audit.append(
            at=NOW,
            actor=ALICE,
            action="request.opened",
            request_id="RB-000001",
            incident_id=None,
            payload={},
        )
        raise RuntimeError("crash between the writes")


async def test_failed_unit_of_work_leaves_nothing_behind(uow: UnitOfWorkFactory) -> None:
    with pytest.raises(RuntimeError, match="crash between the writes"):
        await _write_then_crash(uow)
    async with uow() as u:
        assert await u.requests.count() == 0
        assert list(await u.audit.entries()) == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET body = replace(body, 'request.opened', 'edited')",
        "DELETE FROM audit_entries",
    ],
)
async def test_audit_table_refuses_update_and_delete(
    uow: UnitOfWorkFactory, database_url: str, statement: str
) -> None:
    async with uow() as u:
        await u.audit.append(
            at=NOW,
            actor=ALICE,
            action="request.opened",
            request_id="RB-1",
            incident_id=None,
            payload={"k": "v"},
        )
    with pytest.raises(DBAPIError, match="append-only"):
        async with uow.engine.begin() as conn:
            await conn.execute(text(statement))
    async with uow() as u:
        [entry] = await u.audit.entries()
    assert entry.action == "request.opened"


@pytest.mark.postgres
async def test_audit_table_refuses_truncate_on_postgres(
    postgres_url: str, signer: AuditSigner
) -> None:
    engine = create_engine(postgres_url)
    await migrate.upgrade(engine)
    uow = UnitOfWorkFactory(engine, signer)
    async with uow() as u:
        await u.audit.append(
            at=NOW,
            actor=ALICE,
            action="request.opened",
            request_id="RB-1",
            incident_id=None,
            payload={},
        )
    with pytest.raises(DBAPIError, match="append-only"):
        async with uow.engine.begin() as conn:
            await conn.execute(text("TRUNCATE audit_entries"))
    async with uow() as u:
        assert len(await u.audit.entries()) == 1
    await engine.dispose()
