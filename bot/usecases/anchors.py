"""Checkpoints anchored outside the database: each signed checkpoint is also written as a small
object to the evidence store (S3 under Object Lock when configured), where whoever can rewrite
the database cannot. `rollbot audit verify --anchors` compares the two, so a rewritten chain
is caught even for its newest entries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit.chain import SignedCheckpoint, checkpoint_message, key_id
from bot.ports import EvidenceStore, EvidenceStoreError
from bot.store.audit_log import chain_reader
from bot.store.uow import Committed
from bot.usecases.background import Background

log = structlog.get_logger("rollbot.anchors")
ANCHORS = "audit-anchors/"


def anchor_name(seq: int) -> str:
    return f"{ANCHORS}{seq:012d}.json"


def anchor_body(cp: SignedCheckpoint) -> bytes:
    return json.dumps(
        {
            "seq": cp.seq,
            "hash": cp.hash,
            "signature": cp.signature,
            "key_id": cp.key_id,
            "signed_at": cp.signed_at.isoformat(),
        },
        sort_keys=True,
    ).encode()


class CheckpointAnchors:
    """After each commit that signed checkpoints: write their anchors, off the request path."""

    def __init__(self, store: EvidenceStore) -> None:
        self._store = store
        self._background = Background()

    def on_commit(self, committed: Committed) -> None:
        for cp in committed.checkpoints:
            self._background.spawn(self._put(cp))

    async def _put(self, cp: SignedCheckpoint) -> None:
        try:
            await self._store.put(anchor_name(cp.seq), anchor_body(cp))
        except (
            EvidenceStoreError
        ) as exc:  # the database still holds it; verify says it is unanchored
            log.warning("anchor_not_stored", seq=cp.seq, error=str(exc))

    async def drain(self) -> None:
        await self._background.drain()


@dataclass(frozen=True)
class AnchorVerdict:
    ok: bool
    anchored: int
    reason: str = ""

    def render(self) -> str:
        if self.ok:
            return f"anchors OK: {self.anchored} checkpoints match the evidence store"
        return f"anchors FAILED: {self.reason}"


def _signed(anchor: dict[str, Any], trusted: dict[str, Ed25519PublicKey]) -> str | None:
    key = trusted.get(str(anchor.get("key_id")))
    if key is None:
        return f"the anchor at seq {anchor['seq']} is signed by a key you did not trust"
    try:
        key.verify(
            bytes.fromhex(str(anchor["signature"])),
            checkpoint_message(int(anchor["seq"]), str(anchor["hash"])),
        )
    except (InvalidSignature, ValueError):
        return f"the anchor at seq {anchor['seq']} does not carry a valid signature"
    return None


async def verify_anchors(
    engine: AsyncEngine, store: EvidenceStore, keys: Sequence[Ed25519PublicKey]
) -> AnchorVerdict:
    """Every anchor must be a genuine checkpoint the database still holds, of the chain as it
    is now."""
    trusted = {key_id(k): k for k in keys}
    anchors = []
    for name in await store.names(ANCHORS):
        raw = await store.get(name)
        if raw is not None:
            anchors.append(json.loads(raw))
    async with chain_reader(engine) as reader:
        in_db = {c.seq: c for c in await reader.checkpoints()}
        chain = await reader.hashes_at({int(a["seq"]) for a in anchors})
    for anchor in sorted(anchors, key=lambda a: int(a["seq"])):
        seq = int(anchor["seq"])
        problem = _signed(anchor, trusted)
        if problem is None and seq not in chain:
            problem = f"the chain ends before the anchored checkpoint at seq {seq}: it was cut off"
        elif problem is None and chain[seq] != anchor["hash"]:
            problem = (
                f"the chain at seq {seq} differs from its anchored checkpoint: it was rewritten"
            )
        elif problem is None and seq not in in_db:
            problem = f"the checkpoint at seq {seq} is anchored but missing from the database"
        if problem is not None:
            return AnchorVerdict(ok=False, anchored=len(anchors), reason=problem)
    return AnchorVerdict(ok=True, anchored=len(anchors))
