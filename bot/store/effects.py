"""Turning a transition's effects into rows: audit entries and Slack notices, in its transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.domain import events as ev
from bot.domain.people import Person
from bot.domain.request import RequestState, RollbackRequest
from bot.store.due_items import DueKind
from bot.store.uow import UnitOfWork
from bot.usecases.outbox import NoticeKind, put_notice

EVIDENCE_RETRY = timedelta(minutes=1)
EXECUTION_LEASE = timedelta(minutes=2)
IN_FLIGHT = frozenset({RequestState.EXECUTING, RequestState.VERIFYING})

# Effects people must read on the timeline, by the timeline action that renders them.
_ANNOUNCED: dict[type[ev.Effect], str] = {
    ev.AnnounceAutomaticRollback: "announce",
    ev.Escalate: "escalate",
    ev.PreserveState: "preserve",
}


async def record_audit(uow: UnitOfWork, request: RollbackRequest, effect: ev.AuditEffect) -> None:
    await uow.audit.append(
        at=request.updated_at,
        actor=effect.actor,
        action=effect.action,
        request_id=request.id,
        incident_id=request.incident_id,
        payload={
            "from": effect.from_state,
            "to": effect.to_state,
            "version": request.version,
            **effect.details,
        },
    )


async def record_event(
    uow: UnitOfWork,
    request: RollbackRequest,
    now: datetime,
    *,
    actor: Person,
    action: str,
    payload: dict[str, Any],
    timeline: str,
    details: dict[str, Any],
) -> None:
    """Something that happened to a request without moving it (evidence, alerts): its audit
    entry and its timeline line, in the same transaction."""
    await uow.audit.append(
        at=now,
        actor=actor,
        action=action,
        request_id=request.id,
        incident_id=request.incident_id,
        payload=payload,
    )
    await put_notice(uow, NoticeKind.TIMELINE, request, now, action=timeline, details=details)


async def record_effects(
    uow: UnitOfWork,
    request: RollbackRequest,
    effects: tuple[ev.Effect, ...],
    now: datetime,
) -> None:
    """Audit every accepted event and put what people must see on the timeline.

    Obligations, the decision timeout and the recovery watch become due items the scheduler
    claims.
    ExecuteRollback is acted on after the commit (bot.usecases.execution), never inside it.
    """
    for effect in effects:
        if isinstance(effect, ev.AuditEffect):
            await record_audit(uow, request, effect)
            await put_notice(
                uow,
                NoticeKind.TIMELINE,
                request,
                now,
                action=effect.action,
                actor_id=effect.actor.id,
                actor_name=effect.actor.name,
                details=effect.details,
            )
        elif isinstance(effect, ev.ScheduleObligation):
            # a row the reminder schedule claims; written with the change that created it
            await uow.due.add(effect.obligation.kind.value, request.id, effect.obligation.due)
        elif isinstance(effect, ev.ScheduleDecisionTimeout):
            await uow.due.add(DueKind.DECISION_TIMEOUT, request.id, effect.due)
        elif isinstance(effect, ev.ScheduleRecoveryWatch):
            await uow.due.add(DueKind.RECOVERY_WATCH, request.id, effect.due)
        elif isinstance(effect, ev.AnnounceAutomaticRollback | ev.Escalate | ev.PreserveState):
            action = _ANNOUNCED[type(effect)]
            await put_notice(
                uow,
                NoticeKind.TIMELINE,
                request,
                now,
                action=action,
                details={"reason": effect.reason},
            )


async def record_transition(
    uow: UnitOfWork,
    request: RollbackRequest,
    effects: tuple[ev.Effect, ...],
    now: datetime,
    lease: timedelta = EXECUTION_LEASE,
) -> None:
    """A transition of a request whose card is already posted: effects, card redraw, summary."""
    await record_effects(uow, request, effects, now)
    await put_notice(uow, NoticeKind.CARD_UPDATE, request, now)
    was = next((e.from_state for e in effects if isinstance(e, ev.AuditEffect)), "")
    if request.state in IN_FLIGHT:
        # The executing process renews this lease while it works; if it dies, the lease falls
        # due and another process (or this one, restarted) follows the rollback to its end.
        await uow.due.add_once(DueKind.EXECUTION_LEASE, request.id, now + lease)
    elif was in IN_FLIGHT:  # the rollback has landed: nobody needs to follow it up
        await uow.due.close(DueKind.EXECUTION_LEASE, request.id, now)
    if not request.state.is_open:
        # A closed request gets a signed checkpoint: its record cannot be cut off unnoticed.
        await uow.audit.checkpoint(now)
        if request.obligation(ev.ObligationKind.POST_MORTEM) is not None:
            # An executed rollback owes an evidence pack. The runner stores it at once; this row
            # is what retries it if that fails or the process dies first.
            await uow.due.add_once(DueKind.EVIDENCE_UPLOAD, request.id, now + EVIDENCE_RETRY)
        if request.obligation(ev.ObligationKind.POST_MORTEM) is None:
            # Never executed: the summary goes now. An executed rollback's summary waits for its
            # evidence pack, so it can carry the pack's hash (bot.usecases.evidence).
            await put_notice(uow, NoticeKind.SUMMARY, request, now)
