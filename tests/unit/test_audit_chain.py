"""The hash chain and its verifier (the SOC 2 rollback and recovery procedures "Evidence Your Auditor Expects"; the rollback runbook: every
rollback audited and evidence-backed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.audit.chain import (
    GENESIS,
    ChainEntry,
    Checkpoint,
    entry_body,
    entry_hash,
    sign_checkpoint,
    verify_chain,
)

KEY = Ed25519PrivateKey.generate()
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def build(n: int, every: int = 4) -> tuple[list[ChainEntry], list[Checkpoint]]:
    entries, checkpoints, prev = [], [], GENESIS
    for seq in range(1, n + 1):
        body = entry_body(
            seq=seq,
            at=T0 + timedelta(seconds=seq),
            actor_id=f"U{seq % 3}",
            actor_name="ålice ✓" if seq % 2 else "bob",
            action="approval.given",
            incident_id="INC-1",
            request_id="RB-1",
            payload={"role": "dba", "n": seq},
        )
        digest = entry_hash(prev, body)
        entries.append(ChainEntry(seq, prev, digest, body.decode()))
        if seq % every == 0:
            checkpoints.append(Checkpoint(seq, digest, sign_checkpoint(KEY, seq, digest)))
        prev = digest
    return entries, checkpoints


def test_a_sound_chain_verifies_with_its_head() -> None:
    entries, checkpoints = build(10)
    verdict = verify_chain(entries, checkpoints, KEY.public_key())
    assert verdict.ok
    assert verdict.count == 10
    assert verdict.head == entries[-1].hash
    assert verdict.last_checkpoint == 8
    assert (
        verdict.render()
        == f"OK: 10 entries, head {entries[-1].hash}, last signed checkpoint at seq 8"
    )


def _flip(text: str, at: int) -> str:
    ch = text[at]
    return text[:at] + ("a" if ch != "a" else "b") + text[at + 1 :]


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=12),
    pick=st.integers(min_value=0, max_value=10_000),
    field=st.sampled_from(["seq", "prev_hash", "hash", "body"]),
    offset=st.integers(min_value=0, max_value=10_000),
)
def test_changing_any_single_byte_of_any_field_names_that_entry(
    n: int, pick: int, field: str, offset: int
) -> None:
    entries, checkpoints = build(n)
    index = pick % n
    victim = entries[index]
    if field == "seq":
        digits = str(victim.seq)
        at = offset % len(digits)
        flipped = digits[:at] + str((int(digits[at]) + 1) % 10) + digits[at + 1 :]
        changed = ChainEntry(int(flipped), victim.prev_hash, victim.hash, victim.body)
    else:
        text = getattr(victim, field)
        changed = ChainEntry(**{**victim.__dict__, field: _flip(text, offset % len(text))})
    assert changed != victim
    entries[index] = changed
    verdict = verify_chain(entries, checkpoints, KEY.public_key())
    assert not verdict.ok
    assert verdict.first_bad_seq == victim.seq


def test_a_deleted_middle_entry_is_named() -> None:
    entries, checkpoints = build(9)
    del entries[4]
    verdict = verify_chain(entries, checkpoints, KEY.public_key())
    assert (verdict.ok, verdict.first_bad_seq) == (False, 5)
    assert "entry 5 is missing" in verdict.reason


def test_two_swapped_entries_are_named() -> None:
    entries, checkpoints = build(9)
    entries[2], entries[6] = entries[6], entries[2]
    verdict = verify_chain(entries, checkpoints, KEY.public_key())
    assert (verdict.ok, verdict.first_bad_seq) == (False, 3)


def test_swapped_bodies_with_renumbered_rows_are_named() -> None:
    entries, checkpoints = build(6)
    a, b = entries[1], entries[2]
    entries[1] = ChainEntry(2, a.prev_hash, b.hash, b.body)
    entries[2] = ChainEntry(3, b.prev_hash, a.hash, a.body)
    verdict = verify_chain(entries, checkpoints, KEY.public_key())
    assert (verdict.ok, verdict.first_bad_seq) == (False, 2)
    assert "moved" in verdict.reason


def test_a_cut_off_tail_is_caught_by_the_last_checkpoint() -> None:
    entries, checkpoints = build(9)
    verdict = verify_chain(entries[:6], checkpoints, KEY.public_key())
    assert (verdict.ok, verdict.first_bad_seq) == (False, 7)
    assert verdict.reason == "truncated: checkpoint signed at seq 8 but the chain ends at 6"
    assert (
        verdict.render()
        == "FAILED at seq 7: truncated: checkpoint signed at seq 8 but the chain ends at 6"
    )


def test_a_rewritten_chain_does_not_match_the_signed_checkpoint() -> None:
    entries, checkpoints = build(8)
    # rebuild the chain from entry 3 on with different content: internally consistent, not signed
    forged, prev = entries[:2], entries[1].hash
    for seq in range(3, 9):
        body = entry_body(
            seq=seq,
            at=T0,
            actor_id="U9",
            actor_name="mallory",
            action="x",
            incident_id=None,
            request_id=None,
            payload={},
        )
        digest = entry_hash(prev, body)
        forged.append(ChainEntry(seq, prev, digest, body.decode()))
        prev = digest
    verdict = verify_chain(forged, checkpoints, KEY.public_key())
    assert (verdict.ok, verdict.first_bad_seq) == (False, 4)
    assert "differs from the signed checkpoint" in verdict.reason


@pytest.mark.parametrize("key", ["other", "none"])
def test_checkpoints_need_the_right_key(key: str) -> None:
    entries, checkpoints = build(4)
    public = Ed25519PrivateKey.generate().public_key() if key == "other" else None
    verdict = verify_chain(entries, checkpoints, public)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 4)


def test_garbage_bodies_are_named() -> None:
    entries, checkpoints = build(3)
    bad = entries[1]
    entries[1] = ChainEntry(
        bad.seq, bad.prev_hash, entry_hash(bad.prev_hash, b"not json"), "not json"
    )
    assert (
        verify_chain(entries, checkpoints, KEY.public_key()).reason
        == "the entry body is not valid JSON"
    )


def test_a_slice_verifies_from_its_anchor() -> None:
    entries, checkpoints = build(12)
    verdict = verify_chain(
        entries[4:], checkpoints[1:], KEY.public_key(), anchor=entries[3].hash, first_seq=5
    )
    assert verdict.ok
    assert verdict.count == 8


def test_ranges_cover_the_chain_without_gaps_and_link_only_in_order() -> None:
    from bot.audit.ranges import RangeCheck, hash_rows, linked, split

    assert split(0, 4) == []
    assert split(10, 4, min_range=1) == [(1, 3), (4, 6), (7, 9), (10, 10)]
    assert split(10, 4) == [(1, 10)]  # too short to be worth a second worker
    entries, _ = build(10)
    rows = [(e.seq, e.prev_hash, e.hash, e.body.encode()) for e in entries]
    parts = [hash_rows(rows[lo - 1 : hi], lo, hi, {4}) for lo, hi in split(10, 3, min_range=1)]
    assert all(p.sound for p in parts)
    assert linked(parts, 10)
    assert [p.seen for p in parts] == [{4: entries[3].hash}, {}, {}]
    assert not linked(parts[::-1], 10)  # out of order
    assert not linked(parts[:2], 10)  # the tail is missing
    assert not linked(parts, 10, anchor=entries[0].hash)  # another chain's start
    swapped = [*rows[:5], rows[6], rows[5], *rows[7:]]
    assert not hash_rows(swapped, 1, 10, set()).sound
    assert not hash_rows(rows[:9], 1, 10, set()).sound
    forged = RangeCheck(5, 8, True, "f" * 64, parts[1].last_hash)
    assert not linked([parts[0], forged, parts[2]], 10)
