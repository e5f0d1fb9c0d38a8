"""The audit key's lifecycle: a process signs with the key the log was signed with, or refuses
to start; a new key is introduced by a rotation both keys sign, recorded in the chain itself."""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit.chain import CHECKPOINT_RULE, ROTATION, key_id, rotation_message
from bot.audit.keys import AuditSigner, public_pem
from bot.domain.people import SYSTEM
from bot.store.audit_log import chain_reader
from bot.store.uow import UnitOfWorkFactory


class AuditKeyMismatchError(Exception):
    """This process's key is not the one the log was signed with; the message says what to do."""


async def check_signing_key(engine: AsyncEngine, signer: AuditSigner) -> None:
    """Refuse a key that would make the untouched chain read as tampered: the newest signed
    checkpoint must carry this key's fingerprint (a rotation re-signs the head with the new
    key, so after one the new key passes)."""
    async with chain_reader(engine) as reader:
        newest = await reader.newest_checkpoint()
    if newest is not None and newest.key_id and newest.key_id != signer.key_id:
        raise AuditKeyMismatchError(
            f"the audit log's newest checkpoint (seq {newest.seq}) is signed by key "
            f"{newest.key_id}, and this process holds key {signer.key_id}. Restore that key "
            "(ROLLBOT_AUDIT_KEY_FILE or ROLLBOT_AUDIT_SIGNING_KEY), or introduce the new one "
            "with `rollbot audit rotate-key --new FILE` while the old one is configured"
        )


async def record_checkpoint_rule(uow_factory: UnitOfWorkFactory, now: datetime) -> None:
    """Write where checkpoints must be into the chain itself (once, and again when the interval
    changes), so verification notices a checkpoint someone deleted."""
    every = uow_factory.signer.every
    async with chain_reader(uow_factory.engine) as reader:
        if await reader.newest_rule() == every:
            return
    async with uow_factory() as uow:
        await uow.audit.append(
            at=now,
            actor=SYSTEM,
            action=CHECKPOINT_RULE,
            request_id=None,
            incident_id=None,
            payload={
                "every": every,
                "also": ["when a request closes", "when an evidence pack is stored"],
            },
        )
        await uow.audit.checkpoint(now)


async def rotate_key(
    engine: AsyncEngine, old: Ed25519PrivateKey, new: Ed25519PrivateKey, now: datetime
) -> int:
    """Append the rotation (both keys sign one statement) and sign the head with the new key;
    returns the sequence number of the rotation entry."""
    old_id, new_id = key_id(old.public_key()), key_id(new.public_key())
    statement = rotation_message(old_id, new_id, now.isoformat())
    uow_factory = UnitOfWorkFactory(engine, AuditSigner(new))
    async with uow_factory() as uow:
        await uow.audit.append(
            at=now,
            actor=SYSTEM,
            action=ROTATION,
            request_id=None,
            incident_id=None,
            payload={
                "from_key_id": old_id,
                "to_key_id": new_id,
                "from_public_key": public_pem(old.public_key()).decode(),
                "to_public_key": public_pem(new.public_key()).decode(),
                "from_signature": old.sign(statement).hex(),
                "to_signature": new.sign(statement).hex(),
            },
        )
        await uow.audit.checkpoint(now)
        seq = await uow.audit.settle()  # the rotation is the head now
    assert seq is not None
    return seq
