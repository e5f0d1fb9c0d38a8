"""Use cases for opening and reading rollback requests: the only place that sequences domain
rules, the store and the ports for them. Transitions by people live in bot.usecases.approvals."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.domain import events as ev
from bot.domain.decision import decide_rollback_or_fix
from bot.domain.errors import DomainError
from bot.domain.opening import open_rollback_request
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy, Role
from bot.domain.request import RollbackRequest, TargetRef
from bot.domain.security import security_implications
from bot.domain.severity import SeverityAssessment, classify, declared, override_severity
from bot.domain.transitions import apply
from bot.ports import ChannelDirectory, Clock, Executor, RoleDirectory, UnknownTargetError
from bot.store.effects import record_effects
from bot.store.tables import IncidentRow
from bot.store.uow import UnitOfWork
from bot.usecases.commands import OpenRollback
from bot.usecases.outbox import NoticeKind, put_notice

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
INCIDENT_PREFIX = "inc-"


def new_request_id() -> str:
    return "RB-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def incident_channel_name(target: TargetRef, now: datetime) -> str:
    """`inc-YYYYMMDD-<target>`, within Slack's channel-name rules (lower case, 80 characters)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", target.name.lower()).strip("-") or "target"
    return f"{INCIDENT_PREFIX}{now:%Y%m%d}-{slug}"[:80]


class NoRequestHereError(DomainError):
    def __init__(self) -> None:
        super().__init__("there is no rollback request in this channel yet")


@dataclass(frozen=True)
class Origin:
    """Where the command was typed."""

    channel_id: str
    channel_name: str
    automated: bool = False

    @property
    def is_incident_channel(self) -> bool:
        return self.channel_name.startswith(INCIDENT_PREFIX)


@dataclass(frozen=True)
class OpenResult:
    request: RollbackRequest
    created: bool


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
        after_commit: Callable[[RollbackRequest, tuple[ev.Effect, ...]], None] = lambda r, e: None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy
        self._roles = roles
        self._channels = channels
        self._executors = executors
        self._new_id = new_id
        self._after_commit = after_commit

    def _page(self, assessment: SeverityAssessment) -> dict[str, Any]:
        """Who the severity pages (seed 001 §1): role members, or the incidents channel."""
        profile = assessment.profile
        source = self._policy.roles.get(Role(profile.paged_role)) if profile.paged_role else None
        return {
            "severity": assessment.severity.value,
            "pages": profile.pages,
            "users": list(source.users) if source else [],
            "usergroup": source.usergroup if source else None,
            "incidents_channel": self._policy.paging.incidents_channel,
        }

    def executor_for(self, target: TargetRef) -> Executor:
        executor = self._executors.get(target.kind)
        if executor is None:
            raise UnknownTargetError(f"rollbot cannot roll back {target.kind} targets here")
        return executor

    async def _existing(self, key: str) -> RollbackRequest | None:
        async with self._uow() as uow:
            return await uow.requests.by_idempotency_key(key)

    async def open_request(
        self,
        command: OpenRollback,
        *,
        actor: Person,
        origin: Origin,
        idempotency_key: str,
        _attempt: int = 0,
    ) -> OpenResult:
        """Check the target, open the request in its incident channel and prompt for a decision,
        all in one transaction; a retried delivery of the same command finds the first one."""
        existing = await self._existing(idempotency_key)
        if existing is not None:
            return OpenResult(existing, created=False)
        preflight = await self.executor_for(command.target).preflight(
            command.target, command.to_revision
        )
        roles = await self._roles.roles_of(actor.id)
        security = security_implications(
            rollback_type=command.rollback_type,
            changes=preflight.changes,
            service=self._policy.service(command.target.name),
        )
        now = self._clock.now()
        assessment = _assessment(command, actor)
        channel = origin.channel_id
        if not origin.is_incident_channel:
            name = incident_channel_name(command.target, now)
            invite = None if origin.automated else actor.id  # an alert has nobody to invite
            channel = await self._channels.open_incident_channel(name, invite=invite)
        async with self._uow() as uow:
            known = await uow.incidents.in_channel(channel)
        request_id = self._new_id()
        incident_id = known.id if known else "INC-" + request_id.removeprefix("RB-")
        request, opened = open_rollback_request(
            request_id=request_id,
            channel=channel,
            requester=actor,
            requester_roles=roles,
            target=command.target,
            rollback_type=command.rollback_type,
            assessment=assessment,
            policy=self._policy,
            reason=command.reason,
            now=now,
            ticket=command.ticket,
            to_revision=preflight.to_revision,
            incident_id=incident_id,
            origin_channel=None if origin.is_incident_channel else origin.channel_id,
            baseline_revision=preflight.live_revision,
            security_implications=security,
            preflight=preflight.summary,
            detected_at=command.detected_at,
        )
        # Each step keeps the snapshot its effects describe, so audit versions stay exact.
        steps: list[tuple[RollbackRequest, tuple[ev.Effect, ...]]] = [(request, (opened,))]
        recommendation = decide_rollback_or_fix(command.answers.for_severity(assessment.severity))
        request, effects = apply(request, ev.PromptDecision(recommendation=recommendation), now)
        steps.append((request, effects))
        if command.override_reason is not None:
            overridden = ev.DeclareEmergencyOverride(
                by=actor, roles=roles, reason=command.override_reason
            )
            request, effects = apply(request, overridden, now)
            steps.append((request, effects))
        try:
            async with self._uow() as uow:
                if known is None:
                    await uow.incidents.add(
                        IncidentRow(
                            id=incident_id,
                            channel_id=channel,
                            title=f"{command.target.label}: {command.reason}"[:300],
                            severity=assessment.severity.value,
                            opened_at=now,
                            opened_by=actor.id,
                        )
                    )
                await uow.requests.add(request, idempotency_key)
                await put_notice(uow, NoticeKind.REQUEST_OPENED, request, now)
                await put_notice(uow, NoticeKind.PAGE, request, now, **self._page(assessment))
                for snapshot, step_effects in steps:
                    await record_effects(uow, snapshot, step_effects, now)
        except IntegrityError:
            # A concurrent delivery of the same command won the insert: report that one. Two
            # different requests racing to open one incident channel: the loser tries again.
            winner = await self._existing(idempotency_key)
            if winner is not None:
                return OpenResult(winner, created=False)
            if known is None and _attempt == 0:
                return await self.open_request(
                    command, actor=actor, origin=origin, idempotency_key=idempotency_key, _attempt=1
                )
            raise
        self._after_commit(request, tuple(e for _, step in steps for e in step))
        return OpenResult(request, created=True)

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
