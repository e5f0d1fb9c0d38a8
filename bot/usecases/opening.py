"""Opening a rollback request: check the target, find or create its incident channel, open the
request, prompt for a decision and page who the severity names, all in one transaction.

A retried delivery of the same command finds the request the first delivery opened.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import structlog
from sqlalchemy.exc import IntegrityError

from bot.domain import events as ev
from bot.domain.acts import check_rule
from bot.domain.decision import answered_by_target, decide_rollback_or_fix
from bot.domain.drills import last_rehearsal
from bot.domain.errors import DomainError
from bot.domain.incident import Incident, incident_channel_name
from bot.domain.notices import RequestOpened, page_for
from bot.domain.opening import open_rollback_request, rolled_back_from
from bot.domain.people import Person
from bot.domain.policy import Act, ApprovalPolicy, Role, RollbackType
from bot.domain.request import RollbackRequest, TargetRef
from bot.domain.security import security_implications
from bot.domain.severity import (
    TOP_SEVERITY,
    SeverityAssessment,
    classify,
    declared,
    override_severity,
)
from bot.domain.transitions import apply
from bot.ports import (
    Announcer,
    ChannelDirectory,
    Clock,
    Executor,
    Preflight,
    RoleDirectory,
    UnknownTargetError,
)
from bot.store.effects import record_effects
from bot.store.requests import TargetBusyError
from bot.store.uow import UnitOfWork
from bot.usecases.commands import OpenRollback, Origin

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
Steps = list[tuple[RollbackRequest, tuple[ev.Effect, ...]]]


def new_request_id() -> str:
    return "RB-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


log = structlog.get_logger()


@dataclass(frozen=True)
class OpenResult:
    request: RollbackRequest
    created: bool


@dataclass(frozen=True)
class _Checked:
    """What the outside world said about the request before anything is written."""

    preflight: Preflight
    roles: frozenset[Role]
    security: tuple[str, ...]
    known_bad: str | None  # the plan re-deploys what a recent rollback rolled back from
    last_drill: str | None = None  # the card's line on this rollback's last rehearsal


def _rollback_type(command: OpenRollback, checked: _Checked) -> RollbackType:
    """The matrix row the request is approved under: what the plan really does decides."""
    planned = checked.preflight.database
    if planned is not None:  # a database in the plan: its rows' approvals
        restore = planned.restore_from is not None
        return RollbackType.DATABASE_RESTORE if restore else RollbackType.DATABASE
    if checked.known_bad and command.rollback_type is RollbackType.DEPLOYMENT_LAST_VERSION:
        return RollbackType.DEPLOYMENT_OLDER_VERSION  # it needs that approval
    return command.rollback_type


def _assessment(command: OpenRollback, actor: Person) -> SeverityAssessment:
    if command.signals is None:
        return declared(command.severity, actor.label)
    computed = classify(command.signals)
    if command.severity is None or command.severity is computed.severity:
        return computed
    return override_severity(
        computed, command.severity, "set by the requester in the form", actor.id
    )


class RollbackService:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        policy: ApprovalPolicy,
        roles: RoleDirectory,
        channels: ChannelDirectory,
        executors: Mapping[str, Executor],
        new_id: Callable[[], str] = new_request_id,
        announcer: Announcer | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy
        self._roles = roles
        self._channels = channels
        self._executors = executors
        self._new_id = new_id
        self._announcer = announcer  # says why a channel made for a request stayed empty

    def executor_for(self, target: TargetRef) -> Executor:
        executor = self._executors.get(target.kind)
        if executor is None:
            raise UnknownTargetError(f"rollbot cannot roll back {target.kind} targets here")
        return executor

    async def open_request(
        self, command: OpenRollback, *, actor: Person, origin: Origin, idempotency_key: str
    ) -> OpenResult:
        # What the database knows, read once before the slow calls (the cluster, Slack): a
        # retried command, a target already being rolled back, and the target's history.
        async with self._uow() as uow:
            existing = await uow.requests.by_idempotency_key(idempotency_key)
            if existing is not None:
                return OpenResult(existing, created=False)
            # refused before a channel is made for it
            _refuse_if_open(await uow.requests.open_for_target(command.target))
            earlier = await uow.requests.for_target(command.target)
            drills = await uow.drills.of_target(command.target.kind, command.target.name)
        checked = await self._check(command, actor, earlier)
        rehearsed = last_rehearsal(
            drills, command.target, self._policy.drills.environments, self._clock.now()
        )
        checked = replace(checked, last_drill=rehearsed)
        if command.severity is TOP_SEVERITY and not origin.automated:
            # who may declare the top severity is a policy rule; refused before anything is made
            rule = self._policy.acts[Act.DECLARE_TOP_SEVERITY]
            check_rule(Act.DECLARE_TOP_SEVERITY, rule, actor, checked.roles)
        now = self._clock.now()
        channel = await self._incident_channel(command.target, actor, origin, now)
        # Two different requests racing to open one incident channel: the loser tries once
        # more, and then finds the incident the winner recorded.
        try:
            for attempt in (1, 2):
                try:
                    return await self._store(
                        command, actor, origin, idempotency_key, checked, channel, now
                    )
                except IntegrityError:
                    winner = await self._existing(idempotency_key)
                    if winner is not None:  # a concurrent delivery of the same command won
                        return OpenResult(winner, created=False)
                    await self._refuse_if_busy(command.target)  # another request for it won
                    if attempt == 2:
                        raise
        except Exception as exc:
            if not origin.is_incident_channel:  # a channel rollbot just made for this request
                await self._explain_empty(channel, command.target, exc)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _explain_empty(self, channel: str, target: TargetRef, exc: Exception) -> None:
        """The channel exists and the request does not: whoever finds it must not guess."""
        if self._announcer is None or isinstance(exc, DomainError):
            return  # a refusal after the channel (another request won) is said to the person
        text = (
            f":warning: This channel was opened for a rollback request for `{target.label}`, "
            "but rollbot could not save the request, so nothing was rolled back or approved "
            "here. rollbot tries again; if no card appears, run the `/rollback` command again."
        )
        try:
            await self._announcer.announce(channel, text)
        except Exception as failure:  # the log is what is left; the person hears the error
            log.error("empty_channel_not_explained", channel=channel, error=repr(failure))

    async def _refuse_if_busy(self, target: TargetRef) -> None:
        async with self._uow() as uow:
            _refuse_if_open(await uow.requests.open_for_target(target))

    async def _existing(self, key: str) -> RollbackRequest | None:
        async with self._uow() as uow:
            return await uow.requests.by_idempotency_key(key)

    async def _check(
        self, command: OpenRollback, actor: Person, earlier: list[RollbackRequest]
    ) -> _Checked:
        """Ask the target's platform and the role directory; nothing is written yet."""
        preflight = await self.executor_for(command.target).preflight(
            command.target, command.to_revision, command.to_migration
        )
        security = security_implications(
            rollback_type=command.rollback_type,
            changes=preflight.changes,
            service=self._policy.service(command.target.name),
        )
        known_bad = rolled_back_from(
            earlier,
            preflight.to_identity,
            self._clock.now(),
            self._policy.deadlines.rolled_back_from_window,
        )
        return _Checked(preflight, await self._roles.roles_of(actor.id), security, known_bad)

    async def _incident_channel(
        self, target: TargetRef, actor: Person, origin: Origin, now: datetime
    ) -> str:
        if origin.is_incident_channel:
            # a channel people made: rollbot must be able to post in it before anything opens,
            # or the card, the prompts and any automatic step would happen where nobody sees
            await self._channels.ensure_member(origin.channel_id, origin.channel_name)
            return origin.channel_id
        invite = None if origin.automated else actor.id  # an alert has nobody to invite
        return await self._channels.open_incident_channel(
            incident_channel_name(target, now), invite=invite
        )

    def _steps(
        self,
        command: OpenRollback,
        actor: Person,
        origin: Origin,
        checked: _Checked,
        ids: tuple[str, str, str],
        now: datetime,
    ) -> Steps:
        """The request opened, the decision prompted, an override declared: each step keeps the
        snapshot its effects describe, so audit versions stay exact."""
        request_id, incident_id, channel = ids
        rollback_type = _rollback_type(command, checked)
        request, opened = open_rollback_request(
            request_id=request_id,
            channel=channel,
            requester=actor,
            requester_roles=checked.roles,
            target=command.target,
            rollback_type=rollback_type,
            assessment=_assessment(command, actor),
            policy=self._policy,
            reason=command.reason,
            now=now,
            ticket=command.ticket,
            to_revision=checked.preflight.to_revision,
            requested_revision=command.to_revision,
            identities=(checked.preflight.live_identity, checked.preflight.to_identity),
            known_bad=checked.known_bad,
            incident_id=incident_id,
            origin_channel=None if origin.is_incident_channel else origin.channel_id,
            baseline_revision=checked.preflight.live_revision,
            security_implications=checked.security,
            preflight=checked.preflight.summary,
            detected_at=command.detected_at,
            database_plan=checked.preflight.database,
        )
        request = request.model_copy(
            update={"requested_migration": command.to_migration, "last_drill": checked.last_drill}
        )
        steps: Steps = [(request, (opened,))]
        database = self._policy.databases.get(command.target.name)
        answers = answered_by_target(
            command.answers,
            command.target.kind,
            database.restore_minutes if database is not None else None,
        ).for_severity(request.assessment.severity)
        prompt = ev.PromptDecision(recommendation=decide_rollback_or_fix(answers))
        steps.append(apply(request, prompt, now))
        if command.override_reason is not None:
            override = ev.DeclareEmergencyOverride(
                by=actor, roles=checked.roles, reason=command.override_reason
            )
            steps.append(apply(steps[-1][0], override, now))
        return steps

    async def _store(
        self,
        command: OpenRollback,
        actor: Person,
        origin: Origin,
        idempotency_key: str,
        checked: _Checked,
        channel: str,
        now: datetime,
    ) -> OpenResult:
        async with self._uow() as uow:
            known = await uow.incidents.in_channel(channel)
            request_id = self._new_id()
            incident_id = known.id if known else "INC-" + request_id.removeprefix("RB-")
            steps = self._steps(
                command, actor, origin, checked, (request_id, incident_id, channel), now
            )
            request = steps[-1][0]
            if known is None:
                await uow.incidents.add(
                    Incident(
                        id=incident_id,
                        channel_id=channel,
                        title=f"{command.target.label}: {command.reason}"[:300],
                        severity=request.assessment.severity.value,
                        opened_at=now,
                        opened_by=actor.id,
                    )
                )
            await uow.requests.add(request, idempotency_key)
            await uow.outbox.notify(request, RequestOpened(), now)
            page, where = page_for(request.assessment, self._policy, channel)
            await uow.outbox.notify(request, page, now, to=where)
            for snapshot, effects in steps:
                await record_effects(uow, snapshot, effects, now)
        return OpenResult(request, created=True)


def _refuse_if_open(busy: RollbackRequest | None) -> None:
    """One open request per target: a second one is refused, naming the first."""
    if busy is not None:
        raise TargetBusyError(busy)
