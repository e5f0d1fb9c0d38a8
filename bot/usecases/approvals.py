"""What people do to an open request: decide, approve, deny, override, cancel.

Every action names the request version the person saw. The write is a conditional update on that
version, so double clicks, Slack retries, simultaneous approvers and clicks on an outdated card
lead to exactly one transition; everyone else is told the request has moved on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

from bot.domain import events as ev
from bot.domain.approvals import check_denier
from bot.domain.errors import DomainError
from bot.domain.people import Person
from bot.domain.request import RequestState, RollbackRequest
from bot.domain.transitions import apply
from bot.ports import Clock, Executor, RoleDirectory
from bot.store.effects import EXECUTION_LEASE, record_transition
from bot.store.repositories import RequestMovedOnError
from bot.store.uow import UnitOfWork

AfterCommit = Callable[[RollbackRequest, tuple[ev.Effect, ...]], None]


class TargetMovedError(DomainError):
    def __init__(self, request: RollbackRequest, live: str) -> None:
        super().__init__(
            f"the target moved to revision {live} since this request was made; "
            f"its approvals lapsed. Look at the updated card of {request.id} and approve again.",
        )


class Transitions:
    """Load, apply one event, save conditionally, record effects: one transaction."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        after_commit: AfterCommit,
        lease: timedelta = EXECUTION_LEASE,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._after_commit = after_commit
        self.lease = lease

    async def load(self, request_id: str) -> RollbackRequest:
        async with self._uow() as uow:
            return await uow.requests.get(request_id)

    async def apply(
        self, request_id: str, event: ev.Event, *, seen_version: int | None = None
    ) -> RollbackRequest:
        now = self._clock.now()
        async with self._uow() as uow:
            request = await uow.requests.get(request_id)
            if seen_version is not None and request.version != seen_version:
                raise RequestMovedOnError(request.id)
            moved, effects = apply(request, event, now)
            await uow.requests.save(moved, expected_version=request.version)
            await record_transition(uow, moved, effects, now, self.lease)
        self._after_commit(moved, effects)
        return moved


class RequestFlows:
    def __init__(
        self,
        transitions: Transitions,
        roles: RoleDirectory,
        executors: Mapping[str, Executor],
    ) -> None:
        self._t = transitions
        self._roles = roles
        self._executors = executors

    async def choose_rollback(
        self, request_id: str, seen_version: int, by: Person
    ) -> RollbackRequest:
        event = ev.ChooseRollback(by=by, roles=await self._roles.roles_of(by.id))
        return await self._t.apply(request_id, event, seen_version=seen_version)

    async def choose_forward_fix(
        self, request_id: str, seen_version: int, by: Person
    ) -> RollbackRequest:
        event = ev.ChooseForwardFix(by=by, roles=await self._roles.roles_of(by.id))
        return await self._t.apply(request_id, event, seen_version=seen_version)

    async def _lapse_if_moved(self, request: RollbackRequest) -> None:
        """Approvals count only for the revision they were given against."""
        if request.state not in (RequestState.AWAITING_APPROVAL, RequestState.APPROVED):
            return
        live = await self._executors[request.target.kind].live_revision(request.target)
        if (
            live is not None
            and request.baseline_revision is not None
            and live != request.baseline_revision
        ):
            await self._t.apply(
                request.id, ev.TargetMoved(live_revision=live), seen_version=request.version
            )
            raise TargetMovedError(request, live)

    async def approve(self, request_id: str, seen_version: int, by: Person) -> RollbackRequest:
        roles = await self._roles.roles_of(by.id)
        request = await self._t.load(request_id)
        if request.version != seen_version:
            raise RequestMovedOnError(request_id)
        await self._lapse_if_moved(request)
        return await self._t.apply(
            request_id, ev.Approve(by=by, roles=roles), seen_version=seen_version
        )

    async def check_can_deny(self, request_id: str, by: Person) -> None:
        """Refuse a Deny click before asking for a reason, with the same words as the domain."""
        request = await self._t.load(request_id)
        check_denier(
            needed=request.needed_roles,
            requester=request.requester,
            by=by,
            roles=await self._roles.roles_of(by.id),
        )

    async def deny(
        self, request_id: str, seen_version: int, by: Person, reason: str
    ) -> RollbackRequest:
        event = ev.Deny(by=by, roles=await self._roles.roles_of(by.id), reason=reason)
        return await self._t.apply(request_id, event, seen_version=seen_version)

    async def declare_override(
        self, request_id: str, seen_version: int, by: Person, reason: str
    ) -> RollbackRequest:
        event = ev.DeclareEmergencyOverride(
            by=by, roles=await self._roles.roles_of(by.id), reason=reason
        )
        return await self._t.apply(request_id, event, seen_version=seen_version)

    async def cancel(
        self, request_id: str, seen_version: int, by: Person, reason: str
    ) -> RollbackRequest:
        event = ev.Cancel(by=by, roles=await self._roles.roles_of(by.id), reason=reason)
        return await self._t.apply(request_id, event, seen_version=seen_version)

    async def meet_obligation(
        self, request_id: str, kind: ev.ObligationKind, by: Person, evidence: str
    ) -> RollbackRequest:
        return await self._t.apply(
            request_id, ev.MeetObligation(kind=kind, by=by, evidence=evidence)
        )

    async def approve_retroactively(self, request_id: str, by: Person) -> RollbackRequest:
        event = ev.RetroApprove(by=by, roles=await self._roles.roles_of(by.id))
        return await self._t.apply(request_id, event)

    async def confirm_recovery(self, request_id: str, by: Person) -> RollbackRequest:
        return await self._t.apply(request_id, ev.ConfirmRecovery(by=by))
