"""Deciding between a rollback and a forward fix, by a person on the card."""

from __future__ import annotations

from bot.domain import events as ev
from bot.domain.people import Person
from bot.domain.request import RollbackRequest
from bot.ports import RoleDirectory
from bot.usecases.transition import Transitions


class Decisions:
    def __init__(self, transitions: Transitions, roles: RoleDirectory) -> None:
        self._t = transitions
        self._roles = roles

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
