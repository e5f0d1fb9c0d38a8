"""What rollbot tells people, in its own terms: one payload model per notice kind.

A notice is written in the transaction of the change it reports and delivered later. The core
decides what a notice says, where it goes and whom it mentions; the Slack adapter only renders
the typed fields and sends them where `PLACEMENT` says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from bot.domain.policy import ApprovalPolicy, Role
from bot.domain.request import RollbackRequest
from bot.domain.severity import Severity, SeverityAssessment


class NoticeKind(StrEnum):
    REQUEST_OPENED = "request_opened"  # post the request card in the incident channel
    TIMELINE = "timeline"  # a threaded reply under the card: what happened, when, by whom
    CARD_UPDATE = "card_update"  # redraw the card in place
    SUMMARY = "summary"  # the closing message of a request that reached its end
    REMINDER = "reminder"  # an overdue obligation, posted until it is met
    PAGE = "page"  # who the severity pages, as soon as the request opens
    POSTMORTEM_DRAFT = "postmortem_draft"  # after an executed rollback: a draft to complete
    ESCALATION = "escalation"  # a failed rollback: the roles that must take over, by name
    UNDELIVERED = "undelivered"  # Slack refused a notice a person must see: said elsewhere
    RECOVERY_CHARTS = "recovery_charts"  # the watch ended: the recovery charts, as files


class Placement(StrEnum):
    """Where a notice lands: a message of its own, the card redrawn, or a reply in its thread."""

    MESSAGE = "message"
    CARD = "card"
    THREAD = "thread"


class Mentions(BaseModel):
    """People to notify by name: Slack user IDs and user group IDs."""

    model_config = ConfigDict(frozen=True)

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.users or self.groups)


class NoticePayload(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: ClassVar[NoticeKind]


class RequestOpened(NoticePayload):
    kind: ClassVar[NoticeKind] = NoticeKind.REQUEST_OPENED


class CardUpdate(NoticePayload):
    kind: ClassVar[NoticeKind] = NoticeKind.CARD_UPDATE


class TimelineEntry(NoticePayload):
    """One line of the request's timeline. `action` names the line's wording (an audit action
    such as "approval.given", or a line of rollbot's own such as "progress"); `details` fill it."""

    kind: ClassVar[NoticeKind] = NoticeKind.TIMELINE
    action: str
    actor_id: str | None = None
    actor_name: str | None = None
    details: dict[str, str] = {}


class Summary(NoticePayload):
    kind: ClassVar[NoticeKind] = NoticeKind.SUMMARY
    evidence_sha256: str | None = None
    evidence_location: str | None = None


class Reminder(NoticePayload):
    """An overdue obligation. `link_thread`: the reminder points to the draft in the thread."""

    kind: ClassVar[NoticeKind] = NoticeKind.REMINDER
    obligation: str
    due: datetime
    stage: int
    how: str
    hint: str = ""
    mentions: Mentions = Mentions()
    link_thread: bool = False


class Page(NoticePayload):
    """Who a declared severity pages. `mentions` empty with a role named: nobody is configured."""

    kind: ClassVar[NoticeKind] = NoticeKind.PAGE
    severity: Severity
    pages: str
    mentions: Mentions = Mentions()


class PostmortemDraft(NoticePayload):
    kind: ClassVar[NoticeKind] = NoticeKind.POSTMORTEM_DRAFT
    detection: str
    response: str
    recovery: str
    timeline: tuple[str, ...] = ()


class Escalation(NoticePayload):
    """A person must take over: why, and who is paged (their roles, in words)."""

    kind: ClassVar[NoticeKind] = NoticeKind.ESCALATION
    reason: str
    roles: str
    mentions: Mentions = Mentions()


class Undelivered(NoticePayload):
    """Slack refused, for good, a notice a person had to see: where, what, why, and whether the
    request's automatic steps stopped because nobody can see its channel."""

    kind: ClassVar[NoticeKind] = NoticeKind.UNDELIVERED
    what: NoticeKind
    channel: str
    error: str
    channel_closed: bool = False


class ChartFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str  # error-rate.png
    title: str
    png_base64: str  # carried in the outbox row, so a retry after a restart still has it


class RecoveryCharts(NoticePayload):
    """The recovery charts, uploaded in the request's thread when the watch ends."""

    kind: ClassVar[NoticeKind] = NoticeKind.RECOVERY_CHARTS
    comment: str
    files: tuple[ChartFile, ...]


PAYLOADS: dict[NoticeKind, type[NoticePayload]] = {
    NoticeKind.REQUEST_OPENED: RequestOpened,
    NoticeKind.CARD_UPDATE: CardUpdate,
    NoticeKind.TIMELINE: TimelineEntry,
    NoticeKind.SUMMARY: Summary,
    NoticeKind.REMINDER: Reminder,
    NoticeKind.PAGE: Page,
    NoticeKind.POSTMORTEM_DRAFT: PostmortemDraft,
    NoticeKind.ESCALATION: Escalation,
    NoticeKind.UNDELIVERED: Undelivered,
    NoticeKind.RECOVERY_CHARTS: RecoveryCharts,
}

PLACEMENT: dict[NoticeKind, Placement] = {
    NoticeKind.REQUEST_OPENED: Placement.MESSAGE,
    NoticeKind.PAGE: Placement.MESSAGE,
    NoticeKind.REMINDER: Placement.MESSAGE,
    NoticeKind.SUMMARY: Placement.MESSAGE,
    NoticeKind.CARD_UPDATE: Placement.CARD,
    NoticeKind.TIMELINE: Placement.THREAD,
    NoticeKind.POSTMORTEM_DRAFT: Placement.THREAD,
    NoticeKind.ESCALATION: Placement.MESSAGE,
    NoticeKind.UNDELIVERED: Placement.MESSAGE,
    NoticeKind.RECOVERY_CHARTS: Placement.THREAD,
}


def mentions_for(policy: ApprovalPolicy, roles: tuple[Role, ...]) -> Mentions:
    """The people and user groups the policy gives these roles, in the roles' order."""
    users: list[str] = []
    groups: list[str] = []
    for role in roles:
        source = policy.roles.get(role)
        if source is None:
            continue
        users += [u for u in source.users if u not in users]
        groups += [source.usergroup] if source.usergroup and source.usergroup not in groups else []
    return Mentions(users=tuple(users), groups=tuple(groups))


def escalation_for(
    reason: str, roles: tuple[Role, ...], policy: ApprovalPolicy
) -> tuple[Escalation, tuple[str, ...]]:
    """The escalation posted in the request's channel, and whom it also reaches directly."""
    mentions = mentions_for(policy, roles)
    words = " and ".join(r.value.replace("_", " ") for r in roles)
    return Escalation(reason=reason, roles=words, mentions=mentions), mentions.users


def page_for(
    assessment: SeverityAssessment, policy: ApprovalPolicy, request_channel: str
) -> tuple[Page, str]:
    """Whom a declared severity pages, and where: P1 and P2 mention the people of the role the
    severity names; a P3 goes to the incidents channel when the policy names one; a P4 is a
    ticket note in the request's channel."""
    profile = assessment.profile
    paged = (Role(profile.paged_role),) if profile.paged_role else ()
    mentions = mentions_for(policy, paged)
    page = Page(severity=assessment.severity, pages=profile.pages, mentions=mentions)
    incidents = policy.paging.incidents_channel
    where = incidents if assessment.severity is Severity.P3 and incidents else request_channel
    return page, where


@dataclass(frozen=True)
class Notice:
    """A pending notice as delivery reads it: where, what, and the card it belongs to."""

    id: int
    channel: str
    request: RollbackRequest
    payload: NoticePayload
    attempts: int
    not_before: datetime | None
    card: tuple[str, str] | None  # (channel, ts) of the request's card, once it is posted
    at: datetime

    @property
    def kind(self) -> NoticeKind:
        return self.payload.kind

    @property
    def placement(self) -> Placement:
        return PLACEMENT[self.payload.kind]
