"""The audit hash chain: canonical entry bytes, hashes, signed checkpoints, verification.

Construction (also in the export's README, so an auditor can check it without rollbot):
  body      = canonical JSON of the entry: UTF-8, keys sorted, separators "," and ":"
  hash(n)   = hex(sha256(ascii(hash(n-1)) || body(n))), with hash(0) = 64 zeros
  checkpoint signature = Ed25519 over b"rollbot-audit-checkpoint/v1\\n{seq}\\n{hash}\\n"
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS = "0" * 64
_decode = json.JSONDecoder().decode


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def entry_body(
    *,
    seq: int,
    at: datetime,
    actor_id: str,
    actor_name: str,
    action: str,
    incident_id: str | None,
    request_id: str | None,
    payload: dict[str, Any],
) -> bytes:
    return canonical(
        {
            "v": 1,
            "seq": seq,
            "at": at.isoformat(),
            "actor": {"id": actor_id, "name": actor_name},
            "action": action,
            "incident_id": incident_id,
            "request_id": request_id,
            "payload": payload,
        }
    )


def entry_hash(prev_hash: str, body: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()


def checkpoint_message(seq: int, head: str) -> bytes:
    return f"rollbot-audit-checkpoint/v1\n{seq}\n{head}\n".encode("ascii")


def sign_checkpoint(key: Ed25519PrivateKey, seq: int, head: str) -> str:
    return key.sign(checkpoint_message(seq, head)).hex()


def key_id(public: Ed25519PublicKey) -> str:
    """A public key's fingerprint, as every checkpoint records it."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# The entry a key rotation appends: both keys sign the same statement.
ROTATION = "audit.key_rotated"
# The entry that records where checkpoints must be: from it on, every `every`-th entry is signed.
CHECKPOINT_RULE = "audit.checkpoint_rule"


def rotation_message(old_id: str, new_id: str, at: str) -> bytes:
    return f"rollbot-audit-rotation/v1\n{old_id}\n{new_id}\n{at}\n".encode("ascii")


def _rotation_problem(body: dict[str, Any]) -> tuple[str | None, Ed25519PublicKey | None]:
    """(why the rotation entry is not genuine, or None; the new key it introduces)."""
    payload = body.get("payload") or {}
    try:
        keys = [
            serialization.load_pem_public_key(str(payload[f"{side}_public_key"]).encode())
            for side in ("from", "to")
        ]
        old, new = (k if isinstance(k, Ed25519PublicKey) else None for k in keys)
        if old is None or new is None:
            return "a key rotation names a key that is not Ed25519", None
        message = rotation_message(key_id(old), key_id(new), str(body.get("at")))
        old.verify(bytes.fromhex(str(payload["from_signature"])), message)
        new.verify(bytes.fromhex(str(payload["to_signature"])), message)
    except (InvalidSignature, KeyError, ValueError, TypeError):
        return "a key rotation is not signed by both the old and the new key", None
    if (payload.get("from_key_id"), payload.get("to_key_id")) != (key_id(old), key_id(new)):
        return "a key rotation's fingerprints do not match its keys", None
    return None, new


@dataclass(frozen=True)
class ChainEntry:
    seq: int
    prev_hash: str
    hash: str
    body: str


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    signature: str
    key_id: str = ""  # the signing key's fingerprint ("" in exports made before it was kept)


@dataclass(frozen=True)
class AuditRecord:
    """One stored entry as the log reads it back: the chain fields and the columns copied out of
    its body for querying."""

    seq: int
    at: datetime
    actor_id: str
    actor_name: str
    action: str
    incident_id: str | None
    request_id: str | None
    prev_hash: str
    hash: str
    body: str


@dataclass(frozen=True)
class SignedCheckpoint:
    seq: int
    hash: str
    signature: str
    key_id: str
    signed_at: datetime


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int
    head: str
    first_bad_seq: int | None = None
    reason: str = ""
    last_checkpoint: int | None = None

    def render(self) -> str:
        if self.ok:
            signed = (
                f"last signed checkpoint at seq {self.last_checkpoint}"
                if self.last_checkpoint
                else "no signed checkpoint yet"
            )
            return f"OK: {self.count} entries, head {self.head}, {signed}"
        return f"FAILED at seq {self.first_bad_seq}: {self.reason}"


def _bad(seq: int, reason: str, count: int, head: str) -> Verdict:
    return Verdict(ok=False, count=count, head=head, first_bad_seq=seq, reason=reason)


def _check_entry(entry: ChainEntry, expected: int, prev: str) -> str | None:
    if entry.seq != expected:
        return f"entry {expected} is missing or out of place (found seq {entry.seq})"
    try:
        body = json.loads(entry.body)
    except json.JSONDecodeError:
        return "the entry body is not valid JSON"
    if not isinstance(body, dict) or body.get("seq") != entry.seq:
        return f"the hashed body says seq {body.get('seq') if isinstance(body, dict) else '?'}: entries were moved"
    if entry.prev_hash != prev:
        return "prev_hash does not match the entry before it: an entry was removed or inserted"
    if entry_hash(entry.prev_hash, entry.body.encode("utf-8")) != entry.hash:
        return "hash does not match the content: the entry was edited"
    return None


class ChainVerifier:
    """Feed entries in order; the first problem stops it. Streams: memory does not grow with
    the chain beyond the hashes of entries that a checkpoint names."""

    def __init__(
        self,
        *,
        anchor: str = GENESIS,
        first_seq: int = 1,
        watch: Iterable[int] = (),
        trusted: Iterable[Ed25519PublicKey] = (),
    ) -> None:
        # the keys the auditor brought, and those a genuine rotation from one of them introduced
        self.trusted = {key_id(k): k for k in trusted}
        # (from seq, every): where the chain says checkpoints must be
        self.rules: list[tuple[int, int]] = []
        self.prev = anchor
        self.first_seq = first_seq
        self.expected = first_seq
        self.count = 0
        self.problem: Verdict | None = None
        self._watch = set(watch)
        self._seen: dict[int, str] = {}

    def feed(self, entry: ChainEntry) -> bool:
        """True while the chain is sound so far."""
        if self.problem is not None:
            return False
        problem = _check_entry(entry, self.expected, self.prev)
        if problem:
            self.problem = _bad(self.expected, problem, self.count, self.prev)
            return False
        if entry.seq in self._watch:
            self._seen[entry.seq] = entry.hash
        self.prev, self.expected, self.count = entry.hash, self.expected + 1, self.count + 1
        self.note(entry.seq, _decode(entry.body))
        return True

    def note(self, seq: int, body: dict[str, Any]) -> None:
        """A key rotation: checked, and its new key trusted when a trusted key handed over. A
        checkpoint rule: remembered, so a missing checkpoint is noticed."""
        if body.get("action") == CHECKPOINT_RULE:
            every = (body.get("payload") or {}).get("every")
            if isinstance(every, int) and every > 0:
                self.rules.append((seq, every))
            return
        if body.get("action") != ROTATION:
            return
        problem, new = _rotation_problem(body)
        if problem is not None or new is None:
            self.fail(seq, problem or "a key rotation could not be read")
            return
        if (body.get("payload") or {}).get("from_key_id") in self.trusted:
            self.trusted[key_id(new)] = new

    def feed_body(self, seq: int, prev_hash: str, digest: str, body: str) -> dict[str, Any] | None:
        """`feed` for the hot path of a long chain: the same checks, the body parsed once and
        returned (None when the chain broke here; `problem` says why)."""
        if (
            seq == self.expected
            and prev_hash == self.prev
            and hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest() == digest
        ):
            try:
                parsed = _decode(body)
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict) and parsed.get("seq") == seq:
                if seq in self._watch:
                    self._seen[seq] = digest
                self.prev, self.expected, self.count = digest, seq + 1, self.count + 1
                if parsed.get("action") in (ROTATION, CHECKPOINT_RULE):
                    self.note(seq, parsed)
                    if self.problem is not None:
                        return None
                return parsed
        self.feed(ChainEntry(seq, prev_hash, digest, body))  # the slow path names the problem
        return None

    def accept(self, last_seq: int, head: str, seen: dict[int, str]) -> None:
        """Take entries first_seq..last_seq as proved sound by range checks (the fast path);
        their rules and rotations are then given to `note` in order."""
        self.prev, self.expected, self.count = head, last_seq + 1, last_seq - self.first_seq + 1
        self._seen.update({seq: digest for seq, digest in seen.items() if seq in self._watch})

    def fail(self, seq: int, reason: str) -> None:
        if self.problem is None:
            self.problem = _bad(seq, reason, self.count, self.prev)

    def _checkpoint_problem(
        self,
        cp: Checkpoint,
        key: Ed25519PublicKey | None,
        any_trusted: bool,
        check_signature: bool,
        last_seq: int,
    ) -> tuple[int, str] | None:
        """(seq, why) when this checkpoint does not hold, else None."""
        if not any_trusted:
            return cp.seq, "a signed checkpoint exists but no public key was given"
        if key is None:
            return cp.seq, (
                "the checkpoint is signed by a key you did not trust (fingerprint "
                f"{cp.key_id or 'unknown'})"
            )
        try:
            if check_signature:
                key.verify(bytes.fromhex(cp.signature), checkpoint_message(cp.seq, cp.hash))
        except (InvalidSignature, ValueError):
            return cp.seq, (
                f"checkpoint signature is not valid for key {key_id(key)}: the checkpoint was "
                "altered"
            )
        if cp.seq > last_seq:
            return last_seq + 1, (
                f"truncated: checkpoint signed at seq {cp.seq} but the chain ends at {last_seq}"
            )
        if cp.seq >= self.first_seq and self._seen.get(cp.seq) != cp.hash:
            return cp.seq, "the chain differs from the signed checkpoint at this entry"
        return None

    def finish(
        self,
        checkpoints: Iterable[Checkpoint],
        public_key: Ed25519PublicKey | None,
        *,
        newest_signature_only: bool = False,
    ) -> Verdict:
        """Checkpoints where the rules say, each on the chain's hash at its entry, signed by a
        trusted key. With `newest_signature_only`, only the newest signature is checked: it
        covers every entry before it through the chain, so the older ones add nothing."""
        if self.problem is not None:
            return self.problem
        last_seq = self.expected - 1
        last_checkpoint = None
        cps = list(checkpoints)
        missing = _missing_checkpoint(self.rules, {c.seq for c in cps}, last_seq)
        if missing is not None:
            seq, every = missing
            reason = f"checkpoint missing at seq {seq}: the chain records one every {every} entries"
            return _bad(seq, reason, self.count, self.prev)
        trusted = dict(self.trusted)
        if public_key is not None:
            trusted[key_id(public_key)] = public_key
        ordered = sorted(cps, key=lambda c: c.seq)
        for cp in ordered:
            key = trusted.get(cp.key_id) if cp.key_id else public_key
            signed = not newest_signature_only or cp is ordered[-1]
            problem = self._checkpoint_problem(cp, key, bool(trusted), signed, last_seq)
            if problem is not None:
                return _bad(*problem, self.count, self.prev)
            last_checkpoint = cp.seq
        return Verdict(ok=True, count=self.count, head=self.prev, last_checkpoint=last_checkpoint)


def _missing_checkpoint(
    rules: list[tuple[int, int]], signed: set[int], last_seq: int
) -> tuple[int, int] | None:
    """The first sequence number the recorded rules say is signed and is not."""
    for i, (start, every) in enumerate(rules):
        end = rules[i + 1][0] if i + 1 < len(rules) else last_seq + 1
        first = (start // every + 1) * every
        for seq in range(first, min(end, last_seq + 1), every):
            if seq not in signed:
                return seq, every
    return None


def verify_chain(
    entries: Iterable[ChainEntry],
    checkpoints: Iterable[Checkpoint],
    public_key: Ed25519PublicKey | None,
    *,
    anchor: str = GENESIS,
    first_seq: int = 1,
) -> Verdict:
    """Walk the chain; return the first bad sequence number and why, or the head."""
    cps = list(checkpoints)
    verifier = ChainVerifier(
        anchor=anchor,
        first_seq=first_seq,
        watch=(c.seq for c in cps),
        trusted=[public_key] if public_key is not None else [],
    )
    for entry in entries:
        if not verifier.feed(entry):
            break
    return verifier.finish(cps, public_key)
