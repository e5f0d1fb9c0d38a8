"""The chain cut into ranges that are checked side by side, then linked at their boundaries.

A range check only answers "sound or not" with the hashes at its two ends: when every range
is sound and each range's first prev_hash is the hash the range before it ended on, the whole
chain is sound. When anything is off, the exact verifier walks the chain one entry at a time and
names the first problem, so the fast path never has to explain itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from bot.audit.chain import GENESIS

# Below this many entries per range, a second worker costs more than it saves.
MIN_RANGE = 50_000


@dataclass(frozen=True)
class RangeCheck:
    lo: int
    hi: int
    sound: bool
    first_prev: str = ""  # prev_hash stored on entry lo
    last_hash: str = ""  # hash of entry hi
    seen: dict[int, str] = field(default_factory=dict)  # hashes at the sequence numbers asked for


def split(last_seq: int, workers: int, min_range: int = MIN_RANGE) -> list[tuple[int, int]]:
    """[1, last_seq] in at most `workers` contiguous ranges of at least `min_range` entries."""
    if last_seq < 1:
        return []
    count = max(1, min(workers, last_seq // max(1, min_range)))
    size = -(-last_seq // count)
    return [(lo, min(lo + size - 1, last_seq)) for lo in range(1, last_seq + 1, size)]


def linked(checks: Sequence[RangeCheck], last_seq: int, anchor: str = GENESIS) -> bool:
    """Every range sound, the ranges covering 1..last_seq without a gap, each one starting on
    the hash the one before it ended on (the first on the anchor)."""
    expected_lo, expected_prev = 1, anchor
    for check in checks:
        if not check.sound or check.lo != expected_lo or check.first_prev != expected_prev:
            return False
        expected_lo, expected_prev = check.hi + 1, check.last_hash
    return expected_lo == last_seq + 1


def hash_rows(
    rows: Iterable[tuple[int, str, str, bytes]], lo: int, hi: int, watch: Collection[int]
) -> RangeCheck:
    """Hash stored entries (seq, prev_hash, hash, body as stored bytes) of one range in order.
    This loop is the verifier's hot path: one sha256 and three comparisons an entry."""
    sha256 = hashlib.sha256
    expected, first_prev, prev = lo, "", None
    seen: dict[int, str] = {}
    for seq, prev_hash, digest, body in rows:
        if prev is None:
            first_prev = prev = prev_hash
        if seq != expected or prev_hash != prev:
            return RangeCheck(lo, hi, False)
        if sha256(prev_hash.encode("ascii") + body).hexdigest() != digest:
            return RangeCheck(lo, hi, False)
        if seq in watch:
            seen[seq] = digest
        prev, expected = digest, expected + 1
    if expected != hi + 1 or prev is None:
        return RangeCheck(lo, hi, False)
    return RangeCheck(lo, hi, True, first_prev, prev, seen)
