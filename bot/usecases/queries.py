"""Reading requests: where one stands, what is open in a channel, a target's history, and the
target's rollback drills."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.acts import sees_details
from bot.domain.drills import Drill
from bot.domain.errors import DomainError
from bot.domain.request import RollbackRequest, TargetRef
from bot.ports import RoleDirectory
from bot.store.uow import UnitOfWork


@dataclass(frozen=True)
class Shown:
    """A request as one person may see it: with its details, or only its id, state and channel."""

    request: RollbackRequest
    details: bool


class NoRequestHereError(DomainError):
    def __init__(self) -> None:
        super().__init__("there is no rollback request in this channel yet")


class RequestQueries:
    def __init__(self, uow: Callable[[], UnitOfWork], roles: RoleDirectory | None = None) -> None:
        self._uow = uow
        self._roles = roles

    async def _shown(self, requests: list[RollbackRequest], channel: str, user: str) -> list[Shown]:
        roles = await self._roles.roles_of(user) if self._roles is not None else frozenset()
        return [Shown(r, sees_details(r, channel, roles)) for r in requests]

    async def status_for(self, user: str, channel: str, request_id: str | None) -> Shown:
        """`/rollback status`, as the person asking may see it."""
        [shown] = await self._shown([await self.status(channel, request_id)], channel, user)
        return shown

    async def history_for(self, user: str, channel: str, target: TargetRef) -> list[Shown]:
        """`/rollback history`, as the person asking may see it."""
        return await self._shown(await self.history(target), channel, user)

    async def status(self, channel: str, request_id: str | None) -> RollbackRequest:
        async with self._uow() as uow:
            if request_id is not None:
                return await uow.requests.get(request_id)
            latest = await uow.requests.latest_in_channel(channel)
        if latest is None:
            raise NoRequestHereError()
        return latest

    async def list_open(self, channel: str) -> list[RollbackRequest]:
        async with self._uow() as uow:
            return await uow.requests.open_in_channel(channel)

    async def history(self, target: TargetRef) -> list[RollbackRequest]:
        async with self._uow() as uow:
            return await uow.requests.for_target(target)

    async def drills(self, target: TargetRef, most: int = 5) -> list[Drill]:
        """`/rollback drills`: the target's latest drills, newest first."""
        async with self._uow() as uow:
            found = await uow.drills.of_target(target.kind, target.name)
        mine = [d for d in found if d.target == target]
        return sorted(mine, key=lambda d: d.started_at, reverse=True)[:most]
