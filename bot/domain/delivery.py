"""When Slack refuses a notice for good: who hears about it instead, and what stops.

Slack's error codes are sorted by the Slack adapter into three refusals; everything here is in
rollbot's terms. A refused notice is never retried. When it carried something a person must
act on, a short notice says so where a person will see it: the requester by direct message,
and the incidents channel when the request's own channel is closed to rollbot.
"""

from __future__ import annotations

from enum import StrEnum

from bot.domain.notices import Notice, NoticeKind, Undelivered


class Refusal(StrEnum):
    CHANNEL_CLOSED = "channel_closed"  # rollbot cannot post there any more: archived, removed, gone
    MESSAGE_REFUSED = "message_refused"  # this one message was refused (too long, bad blocks)
    WORKSPACE_REFUSED = "workspace_refused"  # the token itself is refused: nothing can be posted


# What a person must see or act on: the card and its buttons, a page, a reminder, an escalation.
NEEDS_A_PERSON = frozenset(
    {
        NoticeKind.REQUEST_OPENED,
        NoticeKind.CARD_UPDATE,
        NoticeKind.PAGE,
        NoticeKind.REMINDER,
        NoticeKind.ESCALATION,
    }
)


def fallbacks_for(
    notice: Notice, refusal: Refusal, error: str, incidents_channel: str | None
) -> list[tuple[Undelivered, str]]:
    """The notices that tell a person, and where each goes. None for a refusal of a fallback
    itself (it would loop), for a refused token (Slack takes nothing), or for a line nobody
    has to act on."""
    if notice.kind is NoticeKind.UNDELIVERED or refusal is Refusal.WORKSPACE_REFUSED:
        return []
    closed = refusal is Refusal.CHANNEL_CLOSED
    if not closed and notice.kind not in NEEDS_A_PERSON:
        return []
    own_channel = notice.channel == notice.request.channel
    payload = Undelivered(
        what=notice.kind, channel=notice.channel, error=error, channel_closed=closed and own_channel
    )
    where = [notice.request.requester.id]
    if closed and incidents_channel:
        where.append(incidents_channel)
    return [(payload, to) for to in dict.fromkeys(where) if to != notice.channel]
