"""Approving, denying, overriding and cancelling a request: the approval rules themselves are in
bot.domain.approvals; this sequences them with the role directory and the live target."""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain import events as ev
from bot.domain.people import Person
from bot.domain.request import RequestState, RollbackRequest
from bot.ports import Executor, RoleDirectory
from bot.store.requests import RequestMovedOnError
from bot.usecases.transition import TargetMovedError, Transitions


class Approvals:
    def __init__(
        self,
        transitions: Transitions,
        roles: RoleDirectory,
        executors: Mapping[str, Executor],
    ) -> None:
        self._t = transitions
        self._roles = roles
        self._executors = executors

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
