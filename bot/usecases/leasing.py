"""The execution lease of a rollback: held by the process carrying it out, renewed only while the
rollback makes progress, and fencing every change that process makes to the target, so a
process that lost it to another never acts again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from bot.domain.people import SYSTEM
from bot.domain.request import RollbackRequest
from bot.ports import Clock, Fence, LeaseLostError
from bot.store.due_items import DueKind
from bot.store.uow import UnitOfWork

log = structlog.get_logger("rollbot.execution")

# The audit entry written, under the lease, right before the first change reaches the target.
CHANGE_SENT = "execution.change_sent"


@dataclass(frozen=True)
class LeaseRules:
    """How long a process may hold a rollback. `stall`: renewals stop when the rollback has
    reported no progress for this long; `deadline`: never renewed past this long after it
    started; `grace`: a takeover that finds the target untouched waits this long first, so a
    change the previous holder had already sent lands (or times out) before anyone acts."""

    stall: timedelta = timedelta(minutes=10)
    deadline: timedelta = timedelta(minutes=15)
    grace: timedelta = timedelta(seconds=20)


@dataclass
class Lease:
    """This process's hold on a rollback: the fencing token every step it records is
    conditional on, when it last made progress, and whether it was taken over."""

    token: int | None
    started: datetime
    progressed: datetime
    lost: bool = False
    sent: bool = False  # this process recorded that it is sending the change

    def until(self, now: datetime, lease: timedelta, deadline: timedelta) -> datetime:
        """How far a renewal at `now` pushes the lease: one lease on, never past the deadline."""
        return min(now + lease, self.started + deadline)


class LeaseKeeper:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        lease: timedelta,
        rules: LeaseRules,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._lease = lease
        self._rules = rules

    async def held(self, uow: UnitOfWork, request_id: str, lease: Lease) -> bool:
        """Whether this process still holds the lease, read in the caller's transaction."""
        if not await uow.due.holds(DueKind.EXECUTION_LEASE, request_id, lease.token):
            if not lease.lost:
                log.warning("lease_lost", request=request_id)
            lease.lost = True
        return not lease.lost

    def fence(self, request: RollbackRequest, lease: Lease) -> Fence:
        """What an executor calls right before it changes the target: a conditional renewal of
        the lease on its token (so a takeover and this step are ordered by the database), and,
        the first time, a durable record that the change is being sent. A process that takes
        over reads that record: a change that was sent is never sent again."""

        async def fence() -> None:
            now = self._clock.now()
            until = lease.until(now, self._lease, self._rules.deadline)
            async with self._uow() as uow:
                held = lease.token is not None and await uow.due.extend(
                    DueKind.EXECUTION_LEASE, request.id, until, stage=lease.token
                )
                if not held:
                    lease.lost = True
                    log.warning("lease_lost_before_change", request=request.id)
                    raise LeaseLostError(f"another process took {request.id} over")
                if not lease.sent:
                    await uow.audit.append(
                        at=now,
                        actor=SYSTEM,
                        action=CHANGE_SENT,
                        request_id=request.id,
                        incident_id=request.incident_id,
                        payload={"target": request.target.label},
                    )
            lease.sent = True

        return fence

    async def change_sent(self, request_id: str) -> datetime | None:
        """When a process holding this rollback sent its change to the target, if one did."""
        async with self._uow() as uow:
            records = await uow.audit.for_request(request_id)
        return next((r.at for r in records if r.action == CHANGE_SENT), None)

    @contextlib.asynccontextmanager
    async def hold(self, request_id: str) -> AsyncIterator[Lease]:
        """Hold the execution lease while this process works on the request, on the fencing
        token read at the start. Renewed only while the rollback makes progress and never past
        its deadline; marked lost the moment a renewal finds another process took it over."""
        now = self._clock.now()
        async with self._uow() as uow:
            token = await uow.due.stage_of(DueKind.EXECUTION_LEASE, request_id)
        held = Lease(token, started=now, progressed=now)
        task = asyncio.get_running_loop().create_task(self._renew(request_id, held))
        try:
            yield held
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _renew(self, request_id: str, held: Lease) -> None:
        lease, rules = self._lease, self._rules
        while not held.lost:
            await asyncio.sleep(lease.total_seconds() / 3)
            now = self._clock.now()
            if now - held.progressed > rules.stall or now >= held.started + rules.deadline:
                # stuck or overdue: let the lease fall due, so another process looks at the
                # target instead of this one holding the request "executing" for ever
                log.warning("lease_not_renewed", request=request_id, progressed=held.progressed)
                return
            async with self._uow() as uow:
                renewed = await uow.due.extend(
                    DueKind.EXECUTION_LEASE,
                    request_id,
                    held.until(now, lease, rules.deadline),
                    stage=held.token,
                )
            if not renewed:
                held.lost = True
                log.warning("lease_lost", request=request_id)
