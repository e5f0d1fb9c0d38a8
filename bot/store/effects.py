"""Turning a transition's effects into rows, in its transaction: one table, keyed by effect.

Audit entries and timeline lines for what happened, due items for what the clock must chase.
ExecuteRollback writes no row: the unit of work hands it to the execution handler after the
commit, never inside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot.domain import events as ev
from bot.domain.notices import CardUpdate, Summary, TimelineEntry
from bot.domain.people import Person
from bot.domain.request import RequestState, RollbackRequest
from bot.store.due_items import DueKind
from bot.store.uow import UnitOfWork

EVIDENCE_RETRY = timedelta(minutes=1)
EXECUTION_LEASE = timedelta(minutes=2)
IN_FLIGHT = frozenset({RequestState.EXECUTING, RequestState.VERIFYING})

EffectRows = Callable[[UnitOfWork, RollbackRequest, Any, datetime], Awaitable[None]]


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
    details: dict[str, str],
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
    await uow.outbox.notify(request, TimelineEntry(action=timeline, details=details), now)


async def _audited(
    uow: UnitOfWork, request: RollbackRequest, effect: ev.AuditEffect, now: datetime
) -> None:
    await record_audit(uow, request, effect)
    line = TimelineEntry(
        action=effect.action,
        actor_id=effect.actor.id,
        actor_name=effect.actor.name,
        details=effect.details,
    )
    await uow.outbox.notify(request, line, now)


async def _obligation(
    uow: UnitOfWork, request: RollbackRequest, effect: ev.ScheduleObligation, now: datetime
) -> None:
    # a row the reminder schedule claims; written with the change that created it
    await uow.due.add(effect.obligation.kind.value, request.id, effect.obligation.due)


async def _decision_timeout(
    uow: UnitOfWork, request: RollbackRequest, effect: ev.ScheduleDecisionTimeout, now: datetime
) -> None:
    await uow.due.add(DueKind.DECISION_TIMEOUT, request.id, effect.due)


async def _recovery_watch(
    uow: UnitOfWork, request: RollbackRequest, effect: ev.ScheduleRecoveryWatch, now: datetime
) -> None:
    await uow.due.add(DueKind.RECOVERY_WATCH, request.id, effect.due)


def _announced(action: str) -> EffectRows:
    """An effect people must read on the timeline, as the line `action` words it."""

    async def rows(uow: UnitOfWork, request: RollbackRequest, effect: Any, now: datetime) -> None:
        line = TimelineEntry(action=action, details={"reason": effect.reason})
        await uow.outbox.notify(request, line, now)

    return rows


async def _after_commit_only(
    uow: UnitOfWork, request: RollbackRequest, effect: ev.ExecuteRollback, now: datetime
) -> None:
    """No row: the unit of work hands the effect to the execution handler once committed."""


EFFECT_ROWS: dict[type[ev.Effect], EffectRows] = {
    ev.AuditEffect: _audited,
    ev.ScheduleObligation: _obligation,
    ev.ScheduleDecisionTimeout: _decision_timeout,
    ev.ScheduleRecoveryWatch: _recovery_watch,
    ev.AnnounceAutomaticRollback: _announced("announce"),
    ev.Escalate: _announced("escalate"),
    ev.PreserveState: _announced("preserve"),
    ev.ExecuteRollback: _after_commit_only,
}


async def record_effects(
    uow: UnitOfWork,
    request: RollbackRequest,
    effects: tuple[ev.Effect, ...],
    now: datetime,
) -> None:
    """Write every effect's rows, and collect the effects for the handlers after the commit."""
    for effect in effects:
        await EFFECT_ROWS[type(effect)](uow, request, effect, now)
    uow.collect(request, effects)


async def record_transition(
    uow: UnitOfWork,
    request: RollbackRequest,
    effects: tuple[ev.Effect, ...],
    now: datetime,
    lease: timedelta = EXECUTION_LEASE,
) -> None:
    """A transition of a request whose card is already posted: effects, card redraw, summary."""
    await record_effects(uow, request, effects, now)
    await uow.outbox.notify(request, CardUpdate(), now)
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
    executed = request.obligation(ev.ObligationKind.POST_MORTEM) is not None
    if executed and not request.state.holds_target:  # the rollback is over, open or not
        # An executed rollback owes an evidence pack. The runner stores it at once; this row
        # is what retries it if that fails or the process dies first.
        await uow.due.add_once(DueKind.EVIDENCE_UPLOAD, request.id, now + EVIDENCE_RETRY)
        closing = bool(was) and RequestState(was).is_open and not request.state.is_open
        stored = await uow.requests.evidence_of(request.id) if closing else None
        if stored is not None:  # it closed after its pack was stored
            await uow.outbox.notify(request, Summary(evidence_sha256=stored), now)
    elif not request.state.is_open:
        # Never executed: the summary goes now. An executed rollback's summary waits for its
        # evidence pack, so it can carry the pack's hash (bot.usecases.evidence).
        await uow.outbox.notify(request, Summary(), now)
