"""Ports: the small interfaces the core needs from the outside world. Adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.domain.errors import DomainError
from bot.domain.policy import Role
from bot.domain.request import RollbackRequest, TargetRef


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RoleDirectory(Protocol):
    """Which policy roles a Slack user holds (user groups, explicit lists)."""

    async def roles_of(self, user_id: str) -> frozenset[Role]: ...


class ChannelDirectory(Protocol):
    """Incident channels: find or create one by name, with the requester in it."""

    async def open_incident_channel(self, name: str, invite: str) -> str: ...


class ChannelError(DomainError):
    """The incident channel could not be opened; nothing was stored."""


class UnknownTargetError(DomainError):
    """The target does not exist, or has no such revision; nothing was stored."""


class ExecutionError(Exception):
    """The rollback itself failed; the message says why, for the timeline."""


@dataclass(frozen=True)
class Preflight:
    """What the approvers see before anyone approves."""

    live_revision: str | None
    to_revision: str | None
    summary: str


@dataclass(frozen=True)
class ExecutionResult:
    from_revision: str | None
    to_revision: str
    detail: str


@dataclass(frozen=True)
class VerificationResult:
    passed: bool
    summary: str


Progress = Callable[[str], Awaitable[None]]


class Executor(Protocol):
    """Rolls one kind of target back (Kubernetes, CodeDeploy, a flag...)."""

    async def preflight(self, target: TargetRef, to_revision: str | None) -> Preflight: ...

    async def live_revision(self, target: TargetRef) -> str | None: ...

    async def execute(self, request: RollbackRequest, progress: Progress) -> ExecutionResult: ...


class Verifier(Protocol):
    async def verify(self, request: RollbackRequest) -> VerificationResult: ...
