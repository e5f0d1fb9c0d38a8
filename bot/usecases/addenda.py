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
# what makes each kind of addendum again, by the request's id
Retries = dict[DueKind, Callable[[str], Awaitable[object]]]
MAX_BACKOFF = timedelta(minutes=30)


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
        retry: DueKind | None = None,
    ) -> Addendum | None:
        """Store `what` (in words, for the thread) as a signed addendum to the request's pack;
        None, and the reason in the thread, when it could not be. With `retry`, a due item of
        that kind tries again (through the kind's handler) until it is stored."""
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
            if retry is not None:
                await uow.due.close(retry, request.id, now)
        return addendum

    async def _failed(
        self, request: RollbackRequest, what: str, error: str, retry: DueKind | None
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
                payload={"what": what, "error": error, "retried": retry is not None},
                timeline="addendum_failed" if retry is not None else "addendum_lost",
                details={"what": what, "error": error},
            )
            if retry is not None:
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
        claimed: list[tuple[DueKind, str]] = []
        async with self._uow() as uow:
            for item in await uow.due.claim(now, limit=20, kinds=tuple(self._handlers)):
                backoff = min(FIRST_RETRY * 2 ** (item.stage + 1), MAX_BACKOFF)
                if await uow.due.advance(item.id, item.stage, next_due=now + backoff, done=None):
                    claimed.append((DueKind(item.kind), item.request_id))
        for kind, request_id in claimed:
            await self._handlers[kind](request_id)  # closes the item when it is stored
        return len(claimed)
