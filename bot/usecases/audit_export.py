"""Verifying the audit chain from the database or from an export, and exporting it."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit.chain import (
    GENESIS,
    ChainEntry,
    ChainVerifier,
    Checkpoint,
    SignedCheckpoint,
    Verdict,
    verify_chain,
)
from bot.audit.keys import load_public_key, public_pem
from bot.audit.ranges import MIN_RANGE, RangeCheck, linked
from bot.store.audit_log import chain_reader
from bot.store.audit_ranges import check_ranges

PAGE = 10_000
_COLUMNS = ("action", "incident_id", "request_id")

EXPORT_README = """\
# rollbot audit export

entries.jsonl      one JSON object a line: seq, prev_hash, hash, body
checkpoints.jsonl  one JSON object a line: seq, hash, signature (hex), key_id
public_key.pem     the Ed25519 public key that signed the checkpoints
meta.json          first_seq and anchor (prev_hash of the first entry; 64 zeros from the start)

How to verify without rollbot:
1. `body` is the exact UTF-8 text that was hashed (canonical JSON: keys sorted, separators
   "," and ":", no spaces). For each line in order:
      hash == sha256( prev_hash as ASCII hex  ||  body as UTF-8 bytes ).hexdigest()
   and prev_hash equals the previous line's hash (the first line's equals meta.json's anchor),
   and seq increases by one, and the body's own "seq" equals seq.
2. For each checkpoint, the Ed25519 signature must verify over the bytes
      "rollbot-audit-checkpoint/v1\\n{seq}\\n{hash}\\n"
   with public_key.pem, and the entry with that seq must have that hash. A checkpoint beyond
   the last entry means the tail was cut off.
"""


def _column_problem(body: dict[str, Any], columns: tuple[Any, ...]) -> str | None:
    """The query columns must say what the hashed body says."""
    at, actor_id, actor_name, action, incident_id, request_id = columns
    if body.get("action") != action:
        return "column action differs from the hashed body"
    if body.get("incident_id") != incident_id:
        return "column incident_id differs from the hashed body"
    if body.get("request_id") != request_id:
        return "column request_id differs from the hashed body"
    if body.get("actor") != {"id": actor_id, "name": actor_name}:
        return "column actor differs from the hashed body"
    if body.get("at") != at.isoformat():
        return "column at differs from the hashed body"
    return None


async def verify_database(
    engine: AsyncEngine,
    public_key: Ed25519PublicKey | Sequence[Ed25519PublicKey] | None,
    *,
    workers: int | None = None,
    min_range: int = MIN_RANGE,
) -> Verdict:
    """Check the stored chain against the keys the caller trusts (and those a genuine rotation
    from them introduced). Ranges of the chain are checked side by side first; when any of them
    is not sound, the exact walk names the first entry that is wrong and why."""
    keys = _keys(public_key)
    async with chain_reader(engine) as reader:
        checkpoints = _plain(await reader.checkpoints())
        last_seq = await reader.last_seq()
        derived = await reader.columns_from_body()
        # found by their action column, which the database computes from the hashed body
        special = await reader.rules_and_rotations(last_seq) if derived else []
    if derived:
        watch = sorted({c.seq for c in checkpoints})
        checks = await check_ranges(engine, last_seq, watch, workers, min_range)
        if linked(checks, last_seq):
            verifier = ChainVerifier(watch=watch, trusted=keys)
            verifier.accept(last_seq, checks[-1].last_hash if checks else GENESIS, _seen(checks))
            for seq, body in special:
                verifier.note(seq, json.loads(body))
            verdict = verifier.finish(
                checkpoints, keys[0] if keys else None, newest_signature_only=True
            )
            if verdict.ok:
                return verdict
    return await _walk(engine, keys)


def _keys(
    public_key: Ed25519PublicKey | Sequence[Ed25519PublicKey] | None,
) -> list[Ed25519PublicKey]:
    if public_key is None:
        return []
    if isinstance(public_key, Ed25519PublicKey):
        return [public_key]
    return list(public_key)


def _plain(signed: Sequence[SignedCheckpoint]) -> list[Checkpoint]:
    return [
        Checkpoint(seq=c.seq, hash=c.hash, signature=c.signature, key_id=c.key_id) for c in signed
    ]


def _seen(checks: Sequence[RangeCheck]) -> dict[int, str]:
    return {seq: digest for check in checks for seq, digest in check.seen.items()}


async def _walk(engine: AsyncEngine, keys: list[Ed25519PublicKey]) -> Verdict:
    """Every entry in order, parsed, every signature checked: slow, and exact about what is
    wrong."""
    first_key = keys[0] if keys else None
    async with chain_reader(engine) as reader:
        checkpoints = _plain(await reader.checkpoints())
        verifier = ChainVerifier(watch=(c.seq for c in checkpoints), trusted=keys)
        feed = verifier.feed_body
        async for page in reader.pages(PAGE):
            for row in page:
                seq, prev_hash, digest, body, *columns = row
                parsed = feed(seq, prev_hash, digest, body)
                if parsed is None:
                    return verifier.finish(checkpoints, first_key)
                problem = _column_problem(parsed, tuple(columns))
                if problem:
                    verifier.fail(seq, problem)
                    return verifier.finish(checkpoints, first_key)
    return verifier.finish(checkpoints, first_key)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    entries: int
    checkpoints: int
    first_seq: int | None


async def export_bundle(
    engine: AsyncEngine,
    public_key: Ed25519PublicKey,
    out: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ExportSummary:
    async with chain_reader(engine) as reader:
        rows = await reader.records(since, until)
        cps = await reader.checkpoints()
    first = rows[0].seq if rows else None
    last = rows[-1].seq if rows else None
    inside = [c for c in cps if first is not None and last is not None and first <= c.seq <= last]
    lines = "".join(
        json.dumps({"seq": r.seq, "prev_hash": r.prev_hash, "hash": r.hash, "body": r.body}) + "\n"
        for r in rows
    )
    checkpoint_lines = "".join(
        json.dumps({"seq": c.seq, "hash": c.hash, "signature": c.signature, "key_id": c.key_id})
        + "\n"
        for c in inside
    )
    meta = {"first_seq": first or 1, "anchor": rows[0].prev_hash if rows else GENESIS}
    with tarfile.open(out, "w:gz") as tar:
        _add(tar, "README.md", EXPORT_README.encode())
        _add(tar, "entries.jsonl", lines.encode())
        _add(tar, "checkpoints.jsonl", checkpoint_lines.encode())
        _add(tar, "public_key.pem", public_pem(public_key))
        _add(tar, "meta.json", json.dumps(meta).encode())
    return ExportSummary(path=out, entries=len(rows), checkpoints=len(inside), first_seq=first)


def verify_bundle(path: Path, public_key: Ed25519PublicKey | None = None) -> Verdict:
    """Verify an export; its own public key is used unless one is given (pin a known key)."""
    with tarfile.open(path, "r:gz") as tar:

        def read(name: str) -> bytes:
            member = tar.extractfile(name)
            if member is None:
                raise FileNotFoundError(name)
            return member.read()

        meta = json.loads(read("meta.json"))
        key = public_key or load_public_key(read("public_key.pem"))
        entries = [
            ChainEntry(**json.loads(line))
            for line in read("entries.jsonl").decode().splitlines()
            if line
        ]
        cps = [
            Checkpoint(
                seq=d["seq"], hash=d["hash"], signature=d["signature"], key_id=d.get("key_id", "")
            )
            for d in (
                json.loads(line) for line in read("checkpoints.jsonl").decode().splitlines() if line
            )
        ]
    return verify_chain(entries, cps, key, anchor=meta["anchor"], first_seq=meta["first_seq"])


__all__ = ["export_bundle", "verify_bundle", "verify_database"]
