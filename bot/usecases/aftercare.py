"""What is owed after a rollback or an emergency change: obligations met, retroactive approval,
recovery confirmed by a person."""

from __future__ import annotations

from bot.domain import events as ev
from bot.domain.people import Person
from bot.domain.request import RollbackRequest
from bot.ports import RoleDirectory
from bot.store.due_items import DueKind
from bot.usecases.addenda import Addenda
from bot.usecases.transition import Transitions


class Aftercare:
    def __init__(
        self, transitions: Transitions, roles: RoleDirectory, addenda: Addenda | None = None
    ) -> None:
        self._t = transitions
        self._roles = roles
        # the post-mortem joins the sealed evidence pack as a signed addendum
        self._addenda = addenda

    async def meet_obligation(
        self, request_id: str, kind: ev.ObligationKind, by: Person, evidence: str
    ) -> RollbackRequest:
        roles = await self._roles.roles_of(by.id)
        event = ev.MeetObligation(kind=kind, by=by, evidence=evidence, roles=roles)
        request = await self._t.apply(request_id, event)
        if kind is ev.ObligationKind.POST_MORTEM:
            await self.postmortem_addendum(request_id)
        return request

    async def postmortem_addendum(self, request_id: str) -> None:
        """The recorded post-mortem, signed into the evidence beside the sealed pack (and tried
        again by the scheduler while the store refuses it)."""
        if self._addenda is None:
            return
        request = await self._t.load(request_id)
        met = request.obligation(ev.ObligationKind.POST_MORTEM)
        if met is None or met.evidence is None:
            return
        facts = {
            "post_mortem": met.evidence,
            "recorded_by": met.met_by.model_dump() if met.met_by else None,
            "recorded_at": met.met_at.isoformat() if met.met_at else None,
        }
        await self._addenda.add(
            request_id,
            "post-mortem",
            what=f"The post-mortem ({met.evidence})",
            facts=facts,
            retry=DueKind.POSTMORTEM_ADDENDUM,
        )

    async def approve_retroactively(self, request_id: str, by: Person) -> RollbackRequest:
        event = ev.RetroApprove(by=by, roles=await self._roles.roles_of(by.id))
        return await self._t.apply(request_id, event)

    async def confirm_recovery(self, request_id: str, by: Person) -> RollbackRequest:
        event = ev.ConfirmRecovery(by=by, roles=await self._roles.roles_of(by.id))
        return await self._t.apply(request_id, event)
