"""Adding to a stored evidence pack without rewriting it: a signed addendum stored beside the
pack, audited, and told in the request's thread. A pack not stored yet, or a store that
refuses, is told in the thread too: what was to be added is never dropped silently."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import structlog

from bot.audit.addendum import Addendum, build_addendum
from bot.audit.keys import AuditSigner
from bot.domain.people import SYSTEM
from bot.domain.request import RollbackRequest
from bot.ports import Clock, EvidenceStore, EvidenceStoreError
from bot.store.due_items import DueKind
from bot.store.effects import record_event
from bot.store.uow import UnitOfWorkFactory

log = structlog.get_logger("rollbot.evidence")
FIRST_RETRY = timedelta(minutes=2)
MAX_BACKOFF = timedelta(minutes=30)
# what makes each kind of addendum again, by the request's id
Retries = dict[DueKind, Callable[[str], Awaitable[object]]]


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
        retry: DueKind,
        files: Mapping[str, bytes] | None = None,
    ) -> Addendum | None:
        """Store `what` (in words, for the thread) as a signed addendum to the request's pack;
        None, and the reason in the thread, when it could not be: a due item of the `retry`
        kind then tries again (through that kind's handler) until it is stored."""
        now = self._clock.now()
        async with self._uow() as uow:
            request = await uow.requests.get(request_id)
            pack_sha256 = await uow.requests.evidence_of(request_id)
        if pack_sha256 is None:
            await self._failed(request, what, "the evidence pack is not stored yet", retry)
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
            await self._failed(request, what, str(exc), retry)
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
            await uow.due.close(retry, request.id, now)
        return addendum

    async def _failed(
        self, request: RollbackRequest, what: str, error: str, retry: DueKind
    ) -> None:
        now = self._clock.now()
        log.warning("addendum_not_stored", request=request.id, what=what, error=error)
        async with self._uow() as uow:
            await record_event(
                uow,
                request,
                now,
                actor=SYSTEM,
                action="evidence.addendum_failed",
                payload={"what": what, "error": error},
                timeline="addendum_failed",
                details={"what": what, "error": error},
            )
            await uow.due.add_once(retry, request.id, now + FIRST_RETRY)


class AddendumRetries:
    """Scheduler tick: addenda that could not be stored, made again by their kind's handler.
    Each is claimed and pushed back (2, 4, 8 … 30 minutes) before it runs, so replicas never
    store one twice and a store that stays down is not hammered."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        handlers: Retries,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._handlers = handlers

    async def tick(self) -> int:
        now = self._clock.now()
        async with self._uow() as uow:
            # the first retry was due FIRST_RETRY after the failure; the next ones twice as long
            claimed = await uow.due.claim_for_retry(
                now, tuple(self._handlers), first=FIRST_RETRY * 2, longest=MAX_BACKOFF
            )
        for item in claimed:
            await self._handlers[DueKind(item.kind)](item.request_id)  # closes it when stored
        return len(claimed)
