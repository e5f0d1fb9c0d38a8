"""The audit log in the database: appends never fork, tampering is found, exports verify without
rollbot, and `rollbot audit verify` says where and why."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import sys
import tarfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.audit.keys import AuditSigner
from bot.audit.ranges import linked
from bot.domain.people import Person
from bot.store import migrate
from bot.store.audit_log import chain_reader
from bot.store.audit_ranges import check_ranges
from bot.store.engine import create_engine, is_sqlite
from bot.store.uow import UnitOfWorkFactory
from bot.usecases.audit_export import export_bundle, verify_bundle, verify_database

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ALICE = Person(id="U0ALICE", name="alice")
ROLLBOT = str(Path(sys.executable).parent / "rollbot")


@pytest.fixture
async def uow(database_url: str, signer: AuditSigner) -> AsyncIterator[UnitOfWorkFactory]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield UnitOfWorkFactory(engine, signer)
    await engine.dispose()


async def _append(uow: UnitOfWorkFactory, n: int, *, start: int = 0) -> None:
    for i in range(start, start + n):
        async with uow() as u:
            await u.audit.append(
                at=T0 + timedelta(minutes=i),
                actor=ALICE,
                action="approval.given",
                request_id="RB-1",
                incident_id="INC-1",
                payload={"i": i, "note": "naïve ✓"},
            )


async def _tamper(uow: UnitOfWorkFactory, database_url: str, statement: str) -> None:
    """What an attacker with database access does: lift the guard, edit, put the guard back."""
    tables = ("audit_entries", "audit_checkpoints")
    async with uow.engine.begin() as conn:
        if is_sqlite(database_url):
            for table in tables:
                await conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                await conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
            await conn.execute(text(statement))
        else:
            for table in tables:
                await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            await conn.execute(text(statement))
            for table in tables:
                await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


async def test_appends_chain_and_checkpoint(uow: UnitOfWorkFactory, signer: AuditSigner) -> None:
    await _append(uow, 12)
    async with uow() as u:
        entries = await u.audit.entries()
        checkpoints = await u.audit.checkpoints()
    assert [e.seq for e in entries] == list(range(1, 13))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert [c.seq for c in checkpoints] == [5, 10]
    verdict = await verify_database(uow.engine, signer.public_key)
    assert verdict.ok
    assert (verdict.count, verdict.head, verdict.last_checkpoint) == (12, entries[-1].hash, 10)


async def test_concurrent_appenders_never_fork_the_chain(
    uow: UnitOfWorkFactory, signer: AuditSigner
) -> None:
    await asyncio.gather(*(_append(uow, 5, start=i * 5) for i in range(8)))
    verdict = await verify_database(uow.engine, signer.public_key)
    assert verdict.ok
    assert verdict.count == 40


async def _plain_columns(uow: UnitOfWorkFactory, database_url: str) -> None:
    """What an attacker must do first to make a query column lie: turn it back into data."""
    async with uow.engine.begin() as conn:
        if is_sqlite(database_url):
            for statement in (
                "CREATE TABLE audit_plain AS SELECT * FROM audit_entries",
                "DROP TABLE audit_entries",
                "ALTER TABLE audit_plain RENAME TO audit_entries",
            ):
                await conn.execute(text(statement))
            return
        for column in ("at", "actor_id", "actor_name", "action", "incident_id", "request_id"):
            await conn.execute(
                text(f"ALTER TABLE audit_entries ALTER COLUMN {column} DROP EXPRESSION")
            )


async def test_a_query_column_cannot_be_made_to_differ_from_its_body(
    uow: UnitOfWorkFactory, database_url: str, signer: AuditSigner
) -> None:
    """The database computes the columns from the hashed body: it refuses to set one."""
    await _append(uow, 3)
    with pytest.raises(DBAPIError, match=r"generated column|can only be updated to DEFAULT"):
        await _tamper(uow, database_url, "UPDATE audit_entries SET action = 'x' WHERE seq = 2")
    assert (await verify_database(uow.engine, signer.public_key)).ok


@pytest.mark.parametrize(
    ("statement", "seq", "why"),
    [
        (
            "UPDATE audit_entries SET body = replace(body, 'approval.given', 'approval.giveN') WHERE seq = 4",
            4,
            "edited",
        ),
        (
            "PLAIN UPDATE audit_entries SET action = 'approval.denied' WHERE seq = 6",
            6,
            "column action differs",
        ),
        (
            "PLAIN UPDATE audit_entries SET actor_name = 'mallory' WHERE seq = 2",
            2,
            "column actor differs",
        ),
    ],
)
async def test_tampering_past_the_trigger_is_found(
    uow: UnitOfWorkFactory,
    database_url: str,
    signer: AuditSigner,
    statement: str,
    seq: int,
    why: str,
) -> None:
    await _append(uow, 8)
    assert (await verify_database(uow.engine, signer.public_key)).ok
    if statement.startswith("PLAIN "):
        await _plain_columns(uow, database_url)
        statement = statement.removeprefix("PLAIN ")
    await _tamper(uow, database_url, statement)
    verdict = await verify_database(uow.engine, signer.public_key)
    assert not verdict.ok
    assert verdict.first_bad_seq == seq
    assert why in verdict.reason


async def test_a_checkpoint_is_signed_when_asked_and_only_once(uow: UnitOfWorkFactory) -> None:
    await _append(uow, 3)
    async with uow() as u:
        await u.audit.checkpoint(T0)
        assert await u.audit.settle() == 3
        await u.audit.checkpoint(T0)
        assert await u.audit.settle() == 3
        assert [c.seq for c in await u.audit.checkpoints()] == [3]
    async with uow() as u:  # a later transaction asking again signs nothing new
        await u.audit.checkpoint(T0)
    async with uow() as u:
        assert [c.seq for c in await u.audit.checkpoints()] == [3]


def _independent_verify(bundle: Path) -> int:
    """An auditor's own check, written from the export's README alone."""
    with tarfile.open(bundle) as tar:
        read = lambda name: tar.extractfile(name).read()  # type: ignore[union-attr]  # noqa: E731
        meta, key = (
            json.loads(read("meta.json")),
            serialization.load_pem_public_key(read("public_key.pem")),
        )
        prev, seq, hashes = meta["anchor"], meta["first_seq"], {}
        for line in read("entries.jsonl").decode().splitlines():
            e = json.loads(line)
            assert e["seq"] == seq
            assert e["prev_hash"] == prev
            assert json.loads(e["body"])["seq"] == seq
            assert hashlib.sha256(prev.encode() + e["body"].encode()).hexdigest() == e["hash"]
            prev, seq, hashes[e["seq"]] = e["hash"], seq + 1, e["hash"]
        for line in read("checkpoints.jsonl").decode().splitlines():
            c = json.loads(line)
            key.verify(
                bytes.fromhex(c["signature"]),
                f"rollbot-audit-checkpoint/v1\n{c['seq']}\n{c['hash']}\n".encode(),
            )  # type: ignore[union-attr,call-arg]
            assert hashes[c["seq"]] == c["hash"]
    return len(hashes)


async def test_an_export_verifies_with_rollbot_and_without_it(
    uow: UnitOfWorkFactory, signer: AuditSigner, tmp_path: Path
) -> None:
    await _append(uow, 11)
    everything = await export_bundle(uow.engine, signer.public_key, tmp_path / "all.tar.gz")
    assert (everything.entries, everything.checkpoints) == (11, 2)
    assert verify_bundle(everything.path).ok
    assert _independent_verify(everything.path) == 11

    window = await export_bundle(
        uow.engine,
        signer.public_key,
        tmp_path / "window.tar.gz",
        since=T0 + timedelta(minutes=3),
        until=T0 + timedelta(minutes=8),
    )
    assert (window.entries, window.first_seq, window.checkpoints) == (5, 4, 1)
    assert verify_bundle(window.path).ok
    assert _independent_verify(window.path) == 5
    with tarfile.open(window.path) as tar:
        assert "sha256" in tar.extractfile("README.md").read().decode()  # type: ignore[union-attr]


async def test_cli_verify_before_and_after_tampering_one_byte(
    signer: AuditSigner, tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(
        signer.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    uow = UnitOfWorkFactory(engine, signer)
    await _append(uow, 6)
    env = {
        **os.environ,
        "ROLLBOT_DATABASE_URL": database_url,
        "ROLLBOT_AUDIT_KEY_FILE": str(key_file),
    }

    async def verify() -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            ROLLBOT, "audit", "verify", env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode().strip()

    code, before = await verify()
    assert code == 0
    assert before.startswith("OK: 6 entries, head ")
    await _tamper(
        uow,
        database_url,
        "UPDATE audit_entries SET body = replace(body, 'alice', 'alicf') WHERE seq = 3",
    )
    code, after = await verify()
    assert code == 1
    assert after == "FAILED at seq 3: hash does not match the content: the entry was edited"
    await engine.dispose()


async def test_an_export_is_verified_against_a_key_the_auditor_brings(
    uow: UnitOfWorkFactory, signer: AuditSigner, tmp_path: Path
) -> None:
    """A fully re-signed bundle carries its forger's key: the CLI refuses to verify an export
    without a trusted key unless told to trust the bundle's own, and then says so."""
    await _append(uow, 6)
    bundle = await export_bundle(uow.engine, signer.public_key, tmp_path / "b.tar.gz")
    pem = tmp_path / "rollbot.pub"
    pem.write_bytes(
        signer.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    async def verify(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            ROLLBOT,
            "audit",
            "verify",
            "--export",
            str(bundle.path),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode().strip(), err.decode().strip()

    code, _, err = await verify()
    assert code == 2
    assert err.startswith("rollbot: verifying an export needs the public key you trust")
    code, out, _ = await verify("--trust-bundle-key")
    assert code == 0
    assert out.startswith("Trusted the public key inside the bundle")
    code, out, _ = await verify("--public-key", str(pem))
    assert (code, out.splitlines()[0][:3]) == (0, "OK:")
    other = Ed25519PrivateKey.generate().public_key()
    pem.write_bytes(
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    code, out, _ = await verify("--public-key", str(pem))
    assert code == 1  # a key the auditor trusts did not sign it


# Fast verification: the chain in ranges checked side by side (several worker processes on
# SQLite, several server connections on PostgreSQL), linked at their boundaries.


async def test_ranges_checked_side_by_side_link_into_the_whole_chain(
    uow: UnitOfWorkFactory, signer: AuditSigner
) -> None:
    await _append(uow, 31)
    async with uow() as u:
        entries = await u.audit.entries()
    checks = await check_ranges(uow.engine, 31, [5, 20, 30], workers=3, min_range=1)
    assert [(c.lo, c.hi) for c in checks] == [(1, 11), (12, 22), (23, 31)]
    assert all(c.sound for c in checks)
    assert linked(checks, 31)
    by_seq = {e.seq: e.hash for e in entries}
    assert {seq: h for c in checks for seq, h in c.seen.items()} == {
        s: by_seq[s] for s in (5, 20, 30)
    }
    verdict = await verify_database(uow.engine, signer.public_key, workers=3, min_range=1)
    assert (verdict.ok, verdict.count, verdict.head) == (True, 31, entries[-1].hash)


@pytest.mark.parametrize(
    ("statement", "seq", "why"),
    [
        (
            "UPDATE audit_entries SET body = replace(body, 'naïve', 'naive') WHERE seq = 17",
            17,
            "edited",
        ),
        ("PLAIN UPDATE audit_entries SET request_id = 'RB-2' WHERE seq = 13", 13, "request_id"),
        (
            "UPDATE audit_entries SET body = body WHERE seq = 0",  # touches nothing: still sound
            None,
            "",
        ),
        ("DELETE FROM audit_entries WHERE seq = 12", 12, "missing"),
    ],
)
async def test_a_range_that_is_not_sound_hands_over_to_the_exact_walk(
    uow: UnitOfWorkFactory,
    database_url: str,
    signer: AuditSigner,
    statement: str,
    seq: int | None,
    why: str,
) -> None:
    await _append(uow, 30)
    plain = statement.startswith("PLAIN ")
    if plain:  # a column made to lie: no longer computed from the body, so the walk compares
        await _plain_columns(uow, database_url)
    await _tamper(uow, database_url, statement.removeprefix("PLAIN "))
    async with chain_reader(uow.engine) as reader:
        assert await reader.columns_from_body() is not plain
    checks = await check_ranges(uow.engine, 30, [], workers=3, min_range=1)
    assert linked(checks, 30) is (seq is None or plain)
    verdict = await verify_database(uow.engine, signer.public_key, workers=3, min_range=1)
    assert verdict.ok is (seq is None)
    assert verdict.first_bad_seq == seq
    assert why in verdict.reason


async def test_a_sound_chain_checks_only_the_newest_signature(
    uow: UnitOfWorkFactory, database_url: str, signer: AuditSigner
) -> None:
    """The newest checkpoint's signature covers every entry before it through the chain; an
    older signature that no longer verifies is found by the exact walk, which `export` and
    `verify --export` use, not by the fast path."""
    await _append(uow, 12)  # checkpoints at 5 and 10
    await _tamper(
        uow,
        database_url,
        "UPDATE audit_checkpoints SET signature = replace(signature, substr(signature, 1, 2), "
        "'00') WHERE seq = 5",
    )
    assert (await verify_database(uow.engine, signer.public_key)).ok
    await _tamper(
        uow,
        database_url,
        "UPDATE audit_checkpoints SET signature = replace(signature, substr(signature, 1, 2), "
        "'00') WHERE seq = 10",
    )
    verdict = await verify_database(uow.engine, signer.public_key)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 5)
