"""The steps of a database plan, timed and recorded in the evidence store as they go. A step
that fails stops the plan: the message names the step, where the database is, and what a
person must put right."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.domain.database_rollback import DatabaseStep, RestoreStep
from bot.ports import (
    AdapterError,
    Clock,
    EvidenceStore,
    EvidenceStoreError,
    ExecutionError,
    Progress,
)
from integrations.database.run_record import DatabaseRun

T = TypeVar("T")


class RunSteps:
    def __init__(
        self,
        store: EvidenceStore,
        clock: Clock,
        where: Callable[[DatabaseRun], Awaitable[str]],
    ) -> None:
        self._store = store
        self._clock = clock
        self._where = where

    async def save(self, run: DatabaseRun) -> None:
        # the run goes on when the store refuses; the pack then says what is missing
        with contextlib.suppress(EvidenceStoreError):
            await self._store.put(
                DatabaseRun.name_for(run.request_id), run.model_dump_json().encode()
            )

    async def load(self, request_id: str) -> DatabaseRun | None:
        try:
            raw = await self._store.get(DatabaseRun.name_for(request_id))
        except EvidenceStoreError:
            return None
        return DatabaseRun.model_validate_json(raw) if raw else None

    async def step(
        self,
        run: DatabaseRun,
        step: DatabaseStep | RestoreStep,
        progress: Progress,
        work: Callable[[], Awaitable[T]],
        *,
        left: Callable[[], str] = lambda: "",
    ) -> T:
        """One step, timed and recorded; a failure stops the plan with the step's name, and
        `left` says what the steps before it left for a person to put right."""
        total = len(type(step))
        timed = run.started(step, self._clock.now())
        try:
            result = await work()
        except (AdapterError, ExecutionError) as exc:
            timed.ended_at, timed.outcome = self._clock.now(), f"failed: {exc}"
            await self.save(run)
            at = await self._where(run)
            raise ExecutionError(
                f"step {step.number} of {total} ({step.value}) failed: {exc}. Database "
                f"`{run.database}` is at migration {at}; {left()}nothing after the "
                f"{step.value} ran"
            ) from None
        timed.ended_at, timed.outcome = self._clock.now(), "done"
        await self.save(run)
        await progress(f"step {step.number} of {total} ({step.value}) done")
        return result
