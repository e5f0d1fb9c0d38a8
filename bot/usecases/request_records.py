"""Requests as an operator reads them from a terminal (compare `helm history`, `argocd app
history`): the newest first, filtered by state or target; one request whole, with its steps
from the audit log and the hash of its evidence pack."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel

from bot.audit.chain import AuditRecord
from bot.domain.request import RequestState, RollbackRequest, TargetRef
from bot.store.uow import UnitOfWork


class RecordedStep(BaseModel):
    """One audit entry of the request: when, who, what, and its scalar details."""

    seq: int
    at: datetime
    actor: str
    action: str
    details: dict[str, str]


class RequestRecord(BaseModel):
    request: RollbackRequest
    steps: list[RecordedStep]
    evidence_sha256: str | None


def _step(entry: AuditRecord) -> RecordedStep:
    payload = json.loads(entry.body).get("payload") or {}
    details = {
        k: str(v) for k, v in payload.items() if isinstance(v, str | int | float | bool) and v != ""
    }
    return RecordedStep(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor_name or entry.actor_id,
        action=entry.action,
        details=details,
    )


class RequestRecords:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def listed(
        self, *, state: RequestState | None, target: TargetRef | None, limit: int = 50
    ) -> list[RollbackRequest]:
        async with self._uow() as uow:
            return await uow.requests.listed(
                state=state.value if state is not None else None, target=target, limit=limit
            )

    async def record(self, request_id: str) -> RequestRecord:
        """Raises UnknownRequestError for an id that was never opened."""
        async with self._uow() as uow:
            request = await uow.requests.get(request_id)
            steps = [_step(e) for e in await uow.audit.for_request(request_id)]
            evidence = await uow.requests.evidence_of(request_id)
        return RequestRecord(request=request, steps=steps, evidence_sha256=evidence)
