"""Adding to a stored evidence pack without rewriting it: a signed addendum stored beside the
pack, audited, and told in the request's thread. A pack not stored yet, or a store that
refuses, is told in the thread too: what was to be added is never dropped silently."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from bot.audit.addendum import Addendum, build_addendum
from bot.audit.keys import AuditSigner
from bot.domain.people import SYSTEM
from bot.domain.request import RollbackRequest
from bot.ports import Clock, EvidenceStore, EvidenceStoreError
from bot.store.effects import record_event
from bot.store.uow import UnitOfWorkFactory

log = structlog.get_logger("rollbot.evidence")


class Addenda:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, store: EvidenceStore, signer: AuditSigner
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._store = store
        self._signer = signer

    async def add(
        self,
        request_id: str,
        kind: str,
        *,
        what: str,
        facts: Mapping[str, Any],
        files: Mapping[str, bytes] | None = None,
    ) -> Addendum | None:
        """Store `what` (in words, for the thread) as a signed addendum to the request's pack;
        None, and the reason in the thread, when it could not be."""
        now = self._clock.now()
        async with self._uow() as uow:
            request = await uow.requests.get(request_id)
            pack_sha256 = await uow.requests.evidence_of(request_id)
        if pack_sha256 is None:
            await self._failed(request, kind, what, "the evidence pack is not stored yet")
            return None
        addendum = build_addendum(
            request_id=request_id,
            kind=kind,
            pack_sha256=pack_sha256,
            recorded_at=now,
            facts=facts,
            files=files or {},
            signer=self._signer,
        )
        try:
            for name, blob in addendum.files.items():
                await self._store.put(name, blob)
            location = await self._store.put(addendum.name, addendum.data)
        except EvidenceStoreError as exc:
            await self._failed(request, kind, what, str(exc))
            return None
        async with self._uow() as uow:
            await record_event(
                uow,
                request,
                now,
                actor=SYSTEM,
                action="evidence.addendum",
                payload={
                    "kind": kind,
                    "name": addendum.name,
                    "location": location,
                    "sha256": addendum.sha256,
                    "pack_sha256": pack_sha256,
                    "files": sorted(addendum.files),
                },
                timeline="addendum",
                details={"what": what, "sha256": addendum.sha256},
            )
            await uow.audit.checkpoint(now)  # the addendum's hash is signed into the record
        return addendum

    async def _failed(self, request: RollbackRequest, kind: str, what: str, error: str) -> None:
        log.warning("addendum_not_stored", request=request.id, kind=kind, error=error)
        async with self._uow() as uow:
            await record_event(
                uow,
                request,
                self._clock.now(),
                actor=SYSTEM,
                action="evidence.addendum_failed",
                payload={"kind": kind, "error": error},
                timeline="addendum_failed",
                details={"what": what, "error": error},
            )
