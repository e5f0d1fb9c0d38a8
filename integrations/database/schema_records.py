"""Which schema each release expected, kept in the evidence store beside the packs: one small
record per Deployment and release (its images), written only when it is new or changed, so a
store under Object Lock keeps one version per fact."""

from __future__ import annotations

import hashlib
import json

from bot.domain.request import TargetRef
from bot.ports import Clock, EvidenceStore, EvidenceStoreError, SystemClock


def _name(target: TargetRef, identity: str) -> str:
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return f"schemas/{target.namespace or 'default'}/{target.name}/{digest}.json"


class EvidenceSchemaRecords:
    def __init__(self, store: EvidenceStore, clock: Clock | None = None) -> None:
        self._store = store
        self._clock = clock or SystemClock()

    async def recall(self, target: TargetRef, identity: str) -> str | None:
        try:
            raw = await self._store.get(_name(target, identity))
        except EvidenceStoreError:
            return None
        if not raw:
            return None
        found = json.loads(raw)
        return str(found["migration"]) if found.get("identity") == identity else None

    async def record(self, target: TargetRef, identity: str, migration: str) -> None:
        if await self.recall(target, identity) == migration:
            return
        body = {
            "target": target.label,
            "identity": identity,
            "migration": migration,
            "seen_at": self._clock.now().isoformat(),
        }
        try:
            await self._store.put(_name(target, identity), json.dumps(body).encode())
        except EvidenceStoreError:
            return  # a record is a help for later, never a reason to stop a rollback
