"""The typed commands the use cases receive, whichever adapter read them (the `/rollback`
grammar, the form, an alert). No Slack shapes and no text parsing here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.decision import DecisionAnswers
from bot.domain.events import ObligationKind
from bot.domain.incident import is_incident_channel
from bot.domain.policy import RollbackType
from bot.domain.reporting import Month
from bot.domain.request import TargetRef
from bot.domain.severity import Severity, SeveritySignals


@dataclass(frozen=True)
class Origin:
    """Where a command was typed (or, `automated`, which alert route opened it)."""

    channel_id: str
    channel_name: str
    automated: bool = False

    @property
    def is_incident_channel(self) -> bool:
        return is_incident_channel(self.channel_name)


@dataclass(frozen=True)
class ShowHelp:
    pass


@dataclass(frozen=True)
class OpenForm:
    pass


@dataclass(frozen=True)
class ShowStatus:
    request_id: str | None


@dataclass(frozen=True)
class ListOpen:
    pass


@dataclass(frozen=True)
class OpenRollback:
    target: TargetRef
    rollback_type: RollbackType
    to_revision: str | None
    severity: Severity | None
    reason: str
    ticket: str | None
    # The form asks these; the one-line command leaves them to the defaults.
    signals: SeveritySignals | None = None
    answers: DecisionAnswers = field(default_factory=DecisionAnswers)
    override_reason: str | None = None
    # When the problem was first seen, if something saw it before a person did (an alert).
    detected_at: datetime | None = None
    # A deployment's rollback: the schema migration its older release needs, as a person says
    # (else the release's own annotation says it).
    to_migration: str | None = None


@dataclass(frozen=True)
class ShowHistory:
    target: TargetRef


@dataclass(frozen=True)
class ShowDrills:
    target: TargetRef


@dataclass(frozen=True)
class MeetObligationCommand:
    request_id: str
    kind: ObligationKind
    evidence: str


@dataclass(frozen=True)
class ApproveRetroactively:
    request_id: str


@dataclass(frozen=True)
class ShowReport:
    month: Month | None  # None: this month


Command = (
    ShowReport
    | ShowHelp
    | OpenForm
    | ShowStatus
    | ListOpen
    | ShowHistory
    | ShowDrills
    | OpenRollback
    | MeetObligationCommand
    | ApproveRetroactively
)
