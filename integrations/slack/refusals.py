"""Slack's answers, sorted once: try again later, the card is gone, or refused for good.

Slack's Web API answers a refusal with HTTP 200 and `{"ok": false, "error": "<code>"}`, a rate
limit with HTTP 429 and Retry-After (seconds, or an HTTP date from some proxies), and trouble
on its side with 5xx. Codes from https://api.slack.com/methods/chat.postMessage and
chat.update; anything not known to be passing is a refusal, so an unknown error reaches a
person instead of being retried forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.domain.delivery import Refusal

# An incident timeline must catch up soon after Slack recovers: never wait longer than this.
MAX_BACKOFF = timedelta(seconds=20)

PASSING = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
CHANNEL_CLOSED = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
# The card (or the message a thread hangs off) was deleted by a person: the sender posts it
# again; refused only when the card posted again is gone too.
CARD_GONE = frozenset({"message_not_found", "thread_not_found", "cant_update_message"})
WORKSPACE_REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)


# What a Slack call raises when Slack or the way to it fails; anything else is a bug of ours,
# left to the delivery loop's error log rather than retried as if Slack had said it.
SLACK_FAILURES = (SlackApiError, aiohttp.ClientError, TimeoutError)
SlackFailure = SlackApiError | aiohttp.ClientError | TimeoutError


@dataclass(frozen=True)
class Answer:
    """What to do about one failed call."""

    reason: str  # Slack's error code, or what went wrong on the way
    retry_in: timedelta | None = None  # try again after this long
    refusal: Refusal | None = None  # refused for good, and how far the refusal reaches


def slack_error(error: SlackApiError) -> str:
    """Slack's error code; for an answer that is not Slack's JSON (a proxy's 5xx page), the
    HTTP status."""
    data = error.response.data
    if isinstance(data, dict):
        return str(data.get("error") or "api_error")
    return f"http_{error.response.status_code}"


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)


def retry_after(value: str | None, now: datetime) -> timedelta:
    """Retry-After in seconds or as an HTTP date; one second when it is missing or unreadable."""
    if not value:
        return timedelta(seconds=1)
    if value.strip().isdigit():
        return timedelta(seconds=int(value.strip()))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return timedelta(seconds=1)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(seconds=1))


def classify(error: SlackFailure, attempts: int, now: datetime) -> Answer:
    if not isinstance(error, SlackApiError):
        return Answer("connection", retry_in=backoff(attempts))
    status = error.response.status_code
    if status == 429:
        return Answer(
            "ratelimited", retry_in=retry_after(error.response.headers.get("Retry-After"), now)
        )
    if status >= 500:
        return Answer("server_error", retry_in=backoff(attempts))
    code = slack_error(error)
    if code in PASSING:
        return Answer(code, retry_in=backoff(attempts))
    if code in CHANNEL_CLOSED:
        return Answer(code, refusal=Refusal.CHANNEL_CLOSED)
    if code in WORKSPACE_REFUSED:
        return Answer(code, refusal=Refusal.WORKSPACE_REFUSED)
    return Answer(code, refusal=Refusal.MESSAGE_REFUSED)
