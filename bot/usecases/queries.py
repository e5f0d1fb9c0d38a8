"""Reading requests: where one stands, what is open in a channel, a target's history."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.errors import DomainError
from bot.domain.request import RollbackRequest, TargetRef
from bot.store.uow import UnitOfWork


class NoRequestHereError(DomainError):
    def __init__(self) -> None:
        super().__init__("there is no rollback request in this channel yet")


class RequestQueries:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

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
