"""Who hears about a notice Slack refused for good, as a pure function."""

from __future__ import annotations

import pytest

from bot.domain.delivery import Refusal, fallbacks_for
from bot.domain.notices import (
    CardUpdate,
    Notice,
    NoticePayload,
    Page,
    RequestOpened,
    TimelineEntry,
    Undelivered,
)
from bot.domain.policy import RollbackType
from bot.domain.severity import Severity
from tests.unit.domain.factories import T0, make_request

REQUEST = make_request(RollbackType.DEPLOYMENT_LAST_VERSION)
INCIDENTS = "C0INCIDENTS"


def _notice(payload: NoticePayload, channel: str | None = None) -> Notice:
    return Notice(
        id=1,
        channel=channel or REQUEST.channel,
        request=REQUEST,
        payload=payload,
        attempts=0,
        not_before=None,
        card=None,
        at=T0,
    )


def test_a_closed_channel_tells_the_requester_and_the_incidents_channel() -> None:
    line = _notice(TimelineEntry(action="progress"))
    told = fallbacks_for(line, Refusal.CHANNEL_CLOSED, "is_archived", INCIDENTS)
    assert [where for _, where in told] == [REQUEST.requester.id, INCIDENTS]
    payload = told[0][0]
    assert (payload.channel_closed, payload.error, payload.channel) == (
        True,
        "is_archived",
        REQUEST.channel,
    )


def test_a_refused_page_in_another_channel_does_not_close_the_requests_channel() -> None:
    page = _notice(Page(severity=Severity.P3, pages="incidents channel"), channel=INCIDENTS)
    told = fallbacks_for(page, Refusal.CHANNEL_CLOSED, "not_in_channel", INCIDENTS)
    # never back into the channel that refused it
    assert [where for _, where in told] == [REQUEST.requester.id]
    assert told[0][0].channel_closed is False


@pytest.mark.parametrize("payload", [RequestOpened(), CardUpdate()])
def test_one_refused_message_a_person_needed_reaches_the_requester(payload: NoticePayload) -> None:
    told = fallbacks_for(_notice(payload), Refusal.MESSAGE_REFUSED, "invalid_blocks", INCIDENTS)
    assert [where for _, where in told] == [REQUEST.requester.id]


def test_a_refused_line_nobody_acts_on_and_a_refused_token_tell_nobody() -> None:
    line = _notice(TimelineEntry(action="progress"))
    assert fallbacks_for(line, Refusal.MESSAGE_REFUSED, "msg_too_long", INCIDENTS) == []
    card = _notice(RequestOpened())
    assert fallbacks_for(card, Refusal.WORKSPACE_REFUSED, "invalid_auth", INCIDENTS) == []


def test_a_refused_fallback_is_not_followed_by_another() -> None:
    fallback = Undelivered(what=RequestOpened.kind, channel=REQUEST.channel, error="x")
    dm = _notice(fallback, channel=REQUEST.requester.id)
    assert fallbacks_for(dm, Refusal.CHANNEL_CLOSED, "channel_not_found", INCIDENTS) == []


def test_without_an_incidents_channel_only_the_requester_hears() -> None:
    line = _notice(TimelineEntry(action="progress"))
    told = fallbacks_for(line, Refusal.CHANNEL_CLOSED, "is_archived", None)
    assert [where for _, where in told] == [REQUEST.requester.id]
