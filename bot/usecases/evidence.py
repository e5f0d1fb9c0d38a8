"""Collecting evidence around a rollback and storing the pack. Storage trouble never blocks or
fails a rollback: the pack is retried by the scheduler and the channel is told until it lands."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import structlog

from bot.audit.evidence_pack import EvidencePack, build_pack
from bot.domain.notices import Summary
from bot.domain.people import SYSTEM
from bot.domain.policy import EvidencePolicy
from bot.domain.redaction import redact, redact_text
from bot.domain.request import RollbackRequest
from bot.ports import (
    CaptureMoment,
    Clock,
    EvidenceStore,
    EvidenceStoreError,
    EvidenceWindow,
    Executor,
    ReadableEvidence,
)
from bot.store.due_items import DueKind
from bot.store.effects import record_event
from bot.store.uow import UnitOfWork
from bot.usecases.postmortem import postmortem_draft

log = structlog.get_logger("rollbot.evidence")
MAX_BACKOFF = timedelta(minutes=30)


def _entry(row: Any) -> dict[str, Any]:
    return {"seq": row.seq, "hash": row.hash, **json.loads(row.body)}


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, default=str).encode()


class EvidenceRecorder:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        store: EvidenceStore,
        executors: Mapping[str, Executor],
        policy: EvidencePolicy | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._store = store
        self._executors = executors
        self._policy = policy or EvidencePolicy()
        # Before-captures the store refused, kept in memory for the pack of this process.
        self._unstored_before: dict[str, bytes] = {}

    async def _capture(self, request: RollbackRequest) -> dict[str, Any]:
        try:
            captured = await self._executors[request.target.kind].capture(request.target)
            # the one door into evidence: nothing secret passes it (values hashed per request)
            return dict(redact(captured, salt=request.id))
        except Exception as exc:  # evidence must not stop a rollback; the gap is itself recorded
            log.warning("capture_failed", request=request.id, error=repr(exc))
            return {"capture_failed": redact_text(repr(exc))}

    async def _readable(
        self, request: RollbackRequest, captured: Mapping[str, Any], moment: CaptureMoment
    ) -> ReadableEvidence:
        """The runbook's readable files, redacted like every capture; what could not be read
        or took too long is a gap named in the manifest, never a reason to stop."""
        p = self._policy
        lines = p.log_lines if moment is CaptureMoment.BEFORE else p.log_lines_after
        since = (request.detected_at or request.created_at) - p.events_lead
        window = EvidenceWindow(moment, lines, p.log_bytes, since, request.id)
        what = f"the readable {moment.value}-rollback evidence (describe output, logs)"
        try:
            got = await asyncio.wait_for(
                self._executors[request.target.kind].readable(request.target, captured, window),
                timeout=p.readable_timeout.total_seconds(),
            )
        except TimeoutError:
            seconds = int(p.readable_timeout.total_seconds())
            return ReadableEvidence(gaps=(f"{what} took longer than {seconds} s: left out",))
        except Exception as exc:  # evidence must not stop a rollback
            log.warning("readable_capture_failed", request=request.id, error=repr(exc))
            return ReadableEvidence(gaps=(f"{what} failed: {redact_text(repr(exc))}",))
        return ReadableEvidence(
            files={name: redact_text(text) for name, text in got.files.items()},
            gaps=tuple(redact_text(g) for g in got.gaps),
        )

    async def _stage(self, name: str, data: bytes) -> None:
        try:
            await self._store.put(name, data)
        except EvidenceStoreError as exc:
            log.warning("before_capture_not_stored", name=name, error=str(exc))
            self._unstored_before[name] = data

    async def before(self, request: RollbackRequest) -> None:
        """The target as it was before the rollback, staged in the evidence store."""
        captured = await self._capture(request)
        readable = await self._readable(request, captured, CaptureMoment.BEFORE)
        staged = {"files": dict(readable.files), "gaps": list(readable.gaps)}
        await self._stage(f"{request.id}/before.json", _dumps(captured))
        await self._stage(f"{request.id}/before-readable.json", _dumps(staged))

    async def _staged(self, name: str) -> Any:
        try:
            raw = await self._store.get(name)
        except EvidenceStoreError:
            raw = None
        raw = raw or self._unstored_before.get(name)
        return json.loads(raw) if raw else None

    async def _staged_before(self, request: RollbackRequest) -> dict[str, Any]:
        found = await self._staged(f"{request.id}/before.json")
        return found or {"capture_missing": "no before-capture was stored"}

    async def finish(self, request_id: str) -> EvidencePack | None:
        """Build, store and announce the pack of an ended rollback; None when storing failed."""
        async with self._uow() as uow:
            request = await uow.requests.get(request_id)
            timeline = [_entry(row) for row in await uow.audit.for_request(request_id)]
        after = await self._capture(request)
        staged = await self._staged(f"{request.id}/before-readable.json") or {
            "files": {},
            "gaps": ["no readable before-rollback evidence was staged"],
        }
        readable = await self._readable(request, after, CaptureMoment.AFTER)
        pack = build_pack(
            request,
            timeline=timeline,
            before=await self._staged_before(request),
            after=after,
            readable={**staged["files"], **readable.files},
            gaps=[*staged["gaps"], *readable.gaps],
        )
        now = self._clock.now()
        try:
            location = await self._store.put(pack.name, pack.data)
        except EvidenceStoreError as exc:
            async with self._uow() as uow:
                await record_event(
                    uow,
                    request,
                    now,
                    actor=SYSTEM,
                    action="evidence.upload_failed",
                    payload={"sha256": pack.sha256, "error": str(exc)},
                    timeline="evidence_failed",
                    details={"error": str(exc)},
                )
            return None
        async with self._uow() as uow:
            await record_event(
                uow,
                request,
                now,
                actor=SYSTEM,
                action="evidence.packed",
                payload={"sha256": pack.sha256, "name": pack.name, "location": location},
                timeline="evidence",
                details={"sha256": pack.sha256, "location": location},
            )
            await uow.requests.set_evidence(request.id, pack.sha256)
            await uow.due.close(DueKind.EVIDENCE_UPLOAD, request.id, now)
            await uow.audit.checkpoint(now)  # the pack's hash is signed into the record at once
            if not (await uow.requests.get(request.id)).state.is_open:
                # a request still waiting for a person's confirmation gets its summary on close
                summary = Summary(evidence_sha256=pack.sha256, evidence_location=location)
                await uow.outbox.notify(request, summary, now)
            await uow.outbox.notify(request, postmortem_draft(request, timeline), now)
        return pack

    async def retry_pending(self) -> int:
        """Scheduler tick: try again for every executed rollback whose pack is not stored.

        Each retry is claimed and pushed back (2, 4, 8 … 30 minutes) before it runs, so
        replicas never upload one pack twice and a store that stays down is not hammered."""
        now = self._clock.now()
        async with self._uow() as uow:
            claimed = await uow.due.claim_for_retry(
                now, (DueKind.EVIDENCE_UPLOAD,), first=timedelta(minutes=2), longest=MAX_BACKOFF
            )
        stored = 0
        for request_id in (item.request_id for item in claimed):
            async with self._uow() as uow:
                already = await uow.requests.evidence_of(request_id)
                if already is not None:  # stored by the first attempt after all
                    await uow.due.close(DueKind.EVIDENCE_UPLOAD, request_id, now)
                    continue
            stored += await self.finish(request_id) is not None
        return stored
