"""Ports: the small interfaces the core needs from the outside world. Adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.domain.database_rollback import DatabasePlan
from bot.domain.policy import Role
from bot.domain.recovery_charts import RecoveryChart
from bot.domain.request import RollbackRequest, TargetRef
from bot.domain.rollback_readiness import RollbackPathFacts


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

    async def open_incident_channel(self, name: str, invite: str | None) -> str: ...

    async def ensure_member(self, channel: str, name: str) -> None:
        """Make sure rollbot can post in an existing channel, joining it when it is public;
        ChannelError saying what a person can do when it cannot."""
        ...


class Announcer(Protocol):
    """Says one line in a channel now, outside any request's outbox: for what has no request
    to hang on (an alert that could not be handled). Raises AdapterError when it cannot."""

    async def announce(self, channel: str, text: str) -> None: ...


class AdapterError(Exception):
    """Something outside rollbot refused or failed (Slack, a cluster, a cloud API). Not a rule
    of rollbot's: `str(err)` says what the outside world answered, for the person who acted, and
    nothing was stored."""


class ChannelError(AdapterError):
    """The incident channel could not be opened; nothing was stored."""


class UnknownTargetError(AdapterError):
    """The target does not exist, or has no such revision; nothing was stored."""


class TargetUnavailableError(AdapterError):
    """The platform behind the target could not be asked (throttled, down, access denied);
    nothing was stored, and the message says what it answered."""


class ExecutionError(Exception):
    """The rollback itself failed; the message says why, for the timeline."""


class NothingChangedError(ExecutionError):
    """Following a rollback found the target as the plan found it: the change was never made.
    The message says so in the target's terms."""


@dataclass(frozen=True)
class Preflight:
    """What the approvers see before anyone approves."""

    live_revision: str | None
    to_revision: str | None
    summary: str
    # What the rollback changes: config keys, container images. Security review reads these.
    changes: tuple[str, ...] = ()
    # What runs now and what would run after, as people know it (the images of a Deployment);
    # None where the platform has no such name. A known-bad destination is recognised by it.
    live_identity: str | None = None
    to_identity: str | None = None
    # The schema migration the destination release expects (its pod template says), if any,
    # and the one the running release expects.
    expects_migration: str | None = None
    live_migration: str | None = None
    # The database part of the plan: a downgrade that runs before the target's rollback.
    database: DatabasePlan | None = None


@dataclass(frozen=True)
class ExecutionResult:
    from_revision: str | None
    to_revision: str
    detail: str


@dataclass(frozen=True)
class VerificationResult:
    passed: bool
    summary: str
    checks: dict[str, str] = field(default_factory=dict)
    # False: no check ran (none configured); `passed` then means nothing.
    ran: bool = True


@dataclass(frozen=True)
class PlatformReview:
    """Said through Progress when the change now waits on the platform's own review: it goes on
    the card, in the timeline and in the audit log, with its link."""

    what: str  # "LaunchDarkly approval request"
    link: str
    why: str  # "LaunchDarkly requires approval in production; rollbot waits up to 10 minutes"


Progress = Callable[[str | PlatformReview], Awaitable[None]]
# Called right before each change to the target: raises LeaseLostError when this process no
# longer holds the rollback (another one took it over), so a slow worker never acts after it.
Fence = Callable[[], Awaitable[None]]


class LeaseLostError(Exception):
    """This process no longer holds the rollback: it must stop without touching the target."""


class CaptureMoment(StrEnum):
    BEFORE = "before"  # right before the rollback changes anything: the version that failed
    AFTER = "after"  # once verification has run: the restored version


@dataclass(frozen=True)
class EvidenceWindow:
    """What the runbook's readable evidence covers at one moment of a rollback."""

    moment: CaptureMoment
    # `kubectl logs --tail` per container, and the most of one pod's log kept (policy)
    log_lines: int
    log_bytes: int
    # Kubernetes events from this time on: the incident window
    events_since: datetime
    # The rollback the evidence is for: an executor that kept its own record of the steps
    # (a database rollback's backup, dumps and Job log) reads it by this.
    request_id: str | None = None


@dataclass(frozen=True)
class ReadableEvidence:
    """Files the runbook names, as people read them (describe output, YAML, logs, an events
    table), by their path in the pack; and what could not be read, for the manifest."""

    files: Mapping[str, str] = field(default_factory=dict)
    gaps: tuple[str, ...] = ()


class Executor(Protocol):
    """Rolls one kind of target back (Kubernetes, CodeDeploy, a flag...)."""

    async def preflight(
        self, target: TargetRef, to_revision: str | None, to_migration: str | None = None
    ) -> Preflight:
        """The plan, nothing changed. `to_migration`: the schema the destination needs, when a
        person says so (`--to-migration`) rather than the release's own annotation."""
        ...

    async def live_revision(self, target: TargetRef) -> str | None: ...

    async def execute(
        self, request: RollbackRequest, progress: Progress, fence: Fence
    ) -> ExecutionResult:
        """Roll back, calling `fence` right before each change it makes to the target."""
        ...

    async def resume(
        self, request: RollbackRequest, progress: Progress, fence: Fence | None = None
    ) -> ExecutionResult:
        """Follow a rollback whose change is already on the target (another process made it) to
        its end. Never changes the target, except that a plan of several steps finishes its
        steps that were never started, each behind `fence` (without one it stops there); raises
        ExecutionError when what is live now is not what the rollback set."""
        ...

    async def capture(self, target: TargetRef) -> dict[str, Any]:
        """The target's state as evidence: what an auditor would want before and after."""
        ...

    async def readable(
        self, target: TargetRef, captured: Mapping[str, Any], window: EvidenceWindow
    ) -> ReadableEvidence:
        """The runbook's human-readable forms of `captured` (already redacted), and at the
        window's moment what only the platform holds (logs). Never raises for a part it cannot
        read: the part is named in `gaps` and the rollback goes on."""
        ...


@dataclass(frozen=True)
class ConfigVersion:
    version: int
    data: dict[str, str]
    sha256: str
    recorded_at: datetime


class ConfigVersions(Protocol):
    """Every version of a ConfigMap that rollbot has seen or written, numbered per ConfigMap."""

    async def record(self, target: TargetRef, data: dict[str, str]) -> ConfigVersion: ...

    async def get(self, target: TargetRef, version: int) -> ConfigVersion | None: ...

    async def history(self, target: TargetRef) -> list[ConfigVersion]: ...


class EvidenceStore(Protocol):
    """Where evidence packs are kept: a directory, or S3 with Object Lock."""

    async def put(self, name: str, data: bytes) -> str: ...

    async def get(self, name: str) -> bytes | None: ...

    async def names(self, prefix: str) -> list[str]:
        """The names stored under `prefix`, sorted."""
        ...


class EvidenceStoreError(Exception):
    """Storing evidence failed; the rollback is unaffected and the upload is retried."""


class Verifier(Protocol):
    async def verify(self, request: RollbackRequest) -> VerificationResult: ...


# (time, value) samples of one series
Series = list[tuple[datetime, float]]


class MetricsHistory(Protocol):
    """A metric over time (Prometheus `query_range`), for the recovery charts."""

    async def series(self, base_url: str, query: str, chart: RecoveryChart) -> Series:
        """The first series the query returns over the chart's window and step; raises
        AdapterError saying what the metrics service answered."""
        ...


class ChartRenderer(Protocol):
    def __call__(self, chart: RecoveryChart, series: Series) -> bytes:
        """The chart as a PNG whose title, axis and metadata carry its absolute UTC times."""
        ...


class RollbackPaths(Protocol):
    """Whether a target could be rolled back now: its history, pause, rollout, owner."""

    async def facts(self, target: TargetRef) -> RollbackPathFacts: ...


@dataclass(frozen=True)
class JobSpec:
    """A one-off container run to completion on the platform (a Kubernetes Job)."""

    namespace: str
    name: str
    image: str
    command: tuple[str, ...]
    # (env var, Secret name, key): read from a Secret, never written into the spec
    secret_env: tuple[tuple[str, str, str], ...]
    deadline_seconds: int
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobRun:
    name: str
    succeeded: bool
    # "Complete", or why it failed as the platform says it
    outcome: str
    log: str


class Jobs(Protocol):
    """Runs a container to its end, once per name: a second `run` of a name follows the first;
    and scales the Deployments a database serves around a restore."""

    async def image_of(self, namespace: str, deployment: str, container: str | None) -> str: ...

    async def run(self, spec: JobSpec) -> JobRun: ...

    async def exists(self, namespace: str, name: str) -> bool: ...

    async def follow(self, namespace: str, name: str, deadline: float) -> JobRun | None: ...

    async def replicas(self, namespace: str, deployment: str) -> int: ...

    async def scale(self, namespace: str, deployment: str, replicas: int) -> None:
        """Set the Deployment's replicas and wait until it runs that many."""
        ...


class SchemaRecords(Protocol):
    """Which schema migration each release of a Deployment expected, as rollbot saw it: what
    an older revision needs when its template no longer says (annotated later, or pruned)."""

    async def record(self, target: TargetRef, identity: str, migration: str) -> None: ...

    async def recall(self, target: TargetRef, identity: str) -> str | None: ...
