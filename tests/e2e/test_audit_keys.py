"""The audit key's lifecycle: a process never signs with a key the log was not signed with, a
shared database never gets a key nobody configured, and a new key comes in only through a
rotation both keys sign, which verification follows."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from bot.audit.chain import GENESIS, ROTATION, entry_hash, key_id, rotation_message
from bot.audit.keys import AuditKeyError, public_pem
from bot.domain.people import SYSTEM
from bot.domain.policy import ApprovalPolicy
from bot.usecases.anchors import verify_anchors
from bot.usecases.audit_export import verify_database
from bot.usecases.audit_keys import AuditKeyMismatchError, rotate_key
from handlers.slack.ids import ActionId
from integrations.evidence.store import LocalEvidenceStore
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import click, command
from tests.helpers import another_replica


async def _signed_history(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    """A request decided and closed: its close signs a checkpoint."""
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "x"')
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.CHOOSE_FORWARD_FIX)
    async with runtime.uow() as uow:
        assert await uow.audit.checkpoints()


def _raw_b64(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_restart_that_lost_the_key_file_refuses_to_sign_with_a_new_one(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
) -> None:
    await _signed_history(runtime, driver, slack, channel)
    old = runtime.uow.signer.key_id
    runtime.settings.audit_key_file.unlink()
    with pytest.raises(AuditKeyMismatchError) as refused:
        await another_replica(runtime, clock, policy, ScriptedExecutor())
    assert f"signed by key {old}" in str(refused.value)
    assert "Restore that key" in str(refused.value)
    # the untouched chain still verifies with the key it was signed with
    assert (await verify_database(runtime.engine, runtime.uow.signer.public_key)).ok


async def test_a_second_replica_with_another_key_refuses_to_start(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
) -> None:
    await _signed_history(runtime, driver, slack, channel)
    other = Ed25519PrivateKey.generate()
    with pytest.raises(
        AuditKeyMismatchError, match=f"this process holds key {key_id(other.public_key())}"
    ):
        await another_replica(
            runtime, clock, policy, ScriptedExecutor(), audit_signing_key=_raw_b64(other)
        )


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_shared_database_never_gets_a_key_nobody_configured(
    runtime: Runtime, clock: FakeClock, policy: ApprovalPolicy, tmp_path: Path
) -> None:
    with pytest.raises(AuditKeyError, match="no audit signing key"):
        await another_replica(
            runtime, clock, policy, ScriptedExecutor(), audit_key_file=tmp_path / "missing.key"
        )
    assert not (tmp_path / "missing.key").exists()


async def test_a_rotation_both_keys_sign_is_followed_by_verification(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
) -> None:
    await _signed_history(runtime, driver, slack, channel)
    old, new = runtime.uow.signer.key, Ed25519PrivateKey.generate()
    await rotate_key(runtime.engine, old, new, datetime.now(UTC))
    rotated = await another_replica(
        runtime, clock, policy, ScriptedExecutor(), audit_signing_key=_raw_b64(new)
    )  # it starts
    try:
        await command(rotated, driver, channel, "U0ALICE", 'deployment/web -n prod --reason "y"')
        async with rotated.uow() as uow:
            await uow.audit.checkpoint(clock.now())
        # the auditor brings the original key: the rotation hands trust over to the new one
        assert (await verify_database(runtime.engine, old.public_key())).ok
        alone = await verify_database(runtime.engine, new.public_key())
        assert not alone.ok
        assert f"signed by a key you did not trust (fingerprint {key_id(old.public_key())})" in (
            alone.reason
        )
    finally:
        await rotated.close()


async def test_a_rotation_signed_by_one_key_only_fails_verification(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await _signed_history(runtime, driver, slack, channel)
    old, new, forger = (
        runtime.uow.signer.key,
        Ed25519PrivateKey.generate(),
        Ed25519PrivateKey.generate(),
    )
    now = datetime.now(UTC)
    statement = rotation_message(
        key_id(old.public_key()), key_id(new.public_key()), now.isoformat()
    )
    async with runtime.uow() as uow:
        await uow.audit.append(
            at=now,
            actor=SYSTEM,
            action=ROTATION,
            request_id=None,
            incident_id=None,
            payload={
                "from_key_id": key_id(old.public_key()),
                "to_key_id": key_id(new.public_key()),
                "from_public_key": public_pem(old.public_key()).decode(),
                "to_public_key": public_pem(new.public_key()).decode(),
                "from_signature": forger.sign(statement).hex(),  # the old key never signed it
                "to_signature": new.sign(statement).hex(),
            },
        )
        seq = await uow.audit.settle()
    verdict = await verify_database(runtime.engine, old.public_key())
    assert not verdict.ok
    assert verdict.first_bad_seq == seq
    assert verdict.reason == "a key rotation is not signed by both the old and the new key"


def test_keygen_writes_a_private_key_once_or_prints_it(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.audit.keys import load_signing_key
    from rollbot.cli import app

    out = tmp_path / "audit.key"
    made = CliRunner().invoke(app, ["audit", "keygen", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    key = load_signing_key(key_b64=None, path=out, create=False)
    assert f"fingerprint {key_id(key.public_key())}" in made.output
    assert "-----BEGIN PUBLIC KEY-----" in made.output
    again = CliRunner().invoke(app, ["audit", "keygen", "--out", str(out)])
    assert again.exit_code == 2
    assert "rollbot never overwrites a key" in again.output
    printed = CliRunner().invoke(app, ["audit", "keygen", "--print-key"])
    line = printed.output.splitlines()[0]
    assert line.startswith("ROLLBOT_AUDIT_SIGNING_KEY=")
    assert load_signing_key(key_b64=line.split("=", 1)[1], path=out, create=False)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_rehashed_chain_without_its_checkpoints_fails_verification(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    """Someone with database write access but no key drops the triggers, changes who decided,
    rehashes the chain and deletes every checkpoint: the chain itself says where checkpoints
    must be, so verify names the first one missing instead of answering OK."""
    await _signed_history(runtime, driver, slack, channel)
    for target in ("deployment/web -n prod", "deployment/payments -n prod"):
        await command(runtime, driver, channel, "U0ALICE", f'{target} --reason "z"')
        await click(runtime, driver, slack, channel, "U0BOB", ActionId.CHOOSE_FORWARD_FIX)
    async with runtime.engine.begin() as conn:
        for table in ("audit_entries", "audit_checkpoints", "audit_head"):
            for verb in ("update", "delete"):
                await conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
        rows = (await conn.execute(text("SELECT seq, body FROM audit_entries ORDER BY seq"))).all()
        assert len(rows) >= 10
        prev = GENESIS
        for seq, body in rows:
            body = body.replace('"bob"', '"mallory"')  # who chose the forward fix
            digest = entry_hash(prev, body.encode())
            await conn.execute(
                text(
                    "UPDATE audit_entries SET body = :b, prev_hash = :p, hash = :h WHERE seq = :s"
                ),
                {"b": body, "p": prev, "h": digest, "s": seq},
            )
            prev = digest  # the query columns follow the edited bodies by themselves
        await conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
        await conn.execute(text("DELETE FROM audit_checkpoints"))
    verdict = await verify_database(runtime.engine, runtime.uow.signer.public_key)
    assert not verdict.ok
    assert verdict.first_bad_seq == 5
    assert verdict.reason == "checkpoint missing at seq 5: the chain records one every 5 entries"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_checkpoints_are_anchored_outside_the_database(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each signed checkpoint is also an object in the evidence store; verify --anchors finds
    a database rewritten by someone who holds neither the key nor the store."""
    import asyncio

    from typer.testing import CliRunner

    from rollbot.cli import app

    await _signed_history(runtime, driver, slack, channel)
    async with runtime.uow() as uow:
        signed = [c.seq for c in await uow.audit.checkpoints()]
    anchored = sorted(p.name for p in (runtime.settings.evidence_dir / "audit-anchors").iterdir())
    assert anchored == [f"{seq:012d}.json" for seq in signed]
    key = runtime.uow.signer.public_key
    assert (
        await verify_anchors(
            runtime.engine, LocalEvidenceStore(runtime.settings.evidence_dir), [key]
        )
    ).ok

    monkeypatch.setenv("ROLLBOT_DATABASE_URL", runtime.settings.database_url)
    monkeypatch.setenv("ROLLBOT_AUDIT_KEY_FILE", str(runtime.settings.audit_key_file))
    monkeypatch.setenv("ROLLBOT_EVIDENCE_DIR", str(runtime.settings.evidence_dir))
    ok = await asyncio.to_thread(CliRunner().invoke, app, ["audit", "verify", "--anchors"])
    assert ok.exit_code == 0, ok.output
    assert f"anchors OK: {len(signed)} checkpoints match the evidence store" in ok.output

    async with runtime.engine.begin() as conn:  # the database rewritten, the store untouched
        await conn.execute(text("DROP TRIGGER IF EXISTS audit_entries_no_update"))
        await conn.execute(text("DROP TRIGGER IF EXISTS audit_entries_no_delete"))
        newest = max(signed)
        await conn.execute(text("DELETE FROM audit_entries WHERE seq >= :s"), {"s": newest})
    verdict = await verify_anchors(
        runtime.engine, LocalEvidenceStore(runtime.settings.evidence_dir), [key]
    )
    assert not verdict.ok
    assert verdict.reason == (
        f"the chain ends before the anchored checkpoint at seq {newest}: it was cut off"
    )
