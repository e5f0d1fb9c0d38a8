"""Addenda to a sealed evidence pack: what became known after the pack was stored (the recovery
charts once the watch ended, the post-mortem once someone recorded it).

A pack sits under S3 Object Lock and is never rewritten, so an addendum is its own object next
to it: a statement naming the pack by its sha256, the addendum's own files by theirs, and an
Ed25519 signature by the audit key over the statement's canonical JSON. An auditor verifies it
offline with the pack, the files and the audit public key (`rollbot evidence verify-addendum`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot.audit.chain import canonical, key_id
from bot.audit.keys import AuditSigner

FORMAT = "rollbot-evidence-addendum/v1"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Addendum:
    name: str  # the statement's name in the evidence store
    data: bytes
    # the files it vouches for, by their names in the evidence store
    files: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return _sha(self.data)


def pack_name(request_id: str) -> str:
    return f"{request_id}/evidence-{request_id}.tar.gz"


def build_addendum(
    *,
    request_id: str,
    kind: str,
    pack_sha256: str,
    recorded_at: datetime,
    facts: Mapping[str, Any],
    files: Mapping[str, bytes],
    signer: AuditSigner,
) -> Addendum:
    folder = f"{request_id}/addenda/{kind}-{recorded_at:%Y%m%dT%H%M%SZ}"
    statement = {
        "format": FORMAT,
        "kind": kind,
        "request_id": request_id,
        "recorded_at": recorded_at.isoformat(),
        "pack": {"name": pack_name(request_id), "sha256": pack_sha256},
        "facts": dict(facts),
        "files": {name: _sha(data) for name, data in sorted(files.items())},
    }
    signed = {
        "statement": statement,
        "key_id": signer.key_id,
        "signature": signer.key.sign(canonical(statement)).hex(),
    }
    data = (json.dumps(signed, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    stored = {f"{folder}/{name}": blob for name, blob in files.items()}
    return Addendum(name=f"{folder}/addendum.json", data=data, files=stored)


def verify_addendum(
    data: bytes, *, pack: bytes, public_key: Ed25519PublicKey, files: Mapping[str, bytes]
) -> list[str]:
    """What is wrong with an addendum, one line each; empty when the signature holds, the pack
    is the one it names and every file it lists is there unchanged (by its name in the
    statement)."""
    try:
        signed = json.loads(data)
        statement, signature = signed["statement"], bytes.fromhex(signed["signature"])
    except (ValueError, KeyError, TypeError) as exc:
        return [f"not a rollbot evidence addendum ({type(exc).__name__})"]
    problems: list[str] = []
    if signed.get("key_id") != key_id(public_key):
        problems.append(
            f"signed by audit key {signed.get('key_id')}, not by the key given ({key_id(public_key)})"
        )
    try:
        public_key.verify(signature, canonical(statement))
    except InvalidSignature:
        problems.append("the signature does not match the statement: it was changed after signing")
    if _sha(pack) != statement["pack"]["sha256"]:
        problems.append(
            f"the pack given has sha256 {_sha(pack)}, the addendum names {statement['pack']['sha256']}"
        )
    for name, digest in statement["files"].items():
        if name not in files:
            problems.append(f"{name} is missing")
        elif _sha(files[name]) != digest:
            problems.append(f"{name} was changed: sha256 {_sha(files[name])}, signed {digest}")
    return problems
