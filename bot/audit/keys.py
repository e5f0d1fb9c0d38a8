"""The Ed25519 key that signs audit checkpoints: from the environment or a key file."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bot.audit.chain import key_id, sign_checkpoint

log = structlog.get_logger("rollbot.audit")


class AuditKeyError(Exception):
    pass


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError("the public key is not an Ed25519 key")
    return key


@dataclass(frozen=True)
class AuditSigner:
    key: Ed25519PrivateKey
    every: int = 100

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign(self, seq: int, head: str) -> str:
        return sign_checkpoint(self.key, seq, head)


def load_signing_key(*, key_b64: str | None, path: Path, create: bool) -> Ed25519PrivateKey:
    """From a base64 32-byte raw private key if given, else a PEM file; create the file when allowed."""
    if key_b64:
        try:
            return Ed25519PrivateKey.from_private_bytes(base64.b64decode(key_b64, validate=True))
        except ValueError as exc:
            raise AuditKeyError(
                f"ROLLBOT_AUDIT_SIGNING_KEY is not a base64 Ed25519 private key (32 raw bytes): {exc}"
            ) from None
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditKeyError(f"{path} does not hold an Ed25519 private key")
        return key
    if not create:
        raise AuditKeyError(f"no audit signing key: set ROLLBOT_AUDIT_SIGNING_KEY or create {path}")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    log.warning("audit_key_created", path=str(path), key_id=key_id(key.public_key()))
    return key
