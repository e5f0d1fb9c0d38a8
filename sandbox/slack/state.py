"""What the fake Slack workspace holds: channels, users, views, faults. Tests read it directly."""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sandbox.slack.scopes import manifest_scopes
from sandbox.slack.socket_mode import SocketHub


class SlackApiError(Exception):
    """A Web API method refused: Slack's `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Channel:
    id: str
    name: str
    members: set[str]
    messages: list[dict[str, Any]] = field(default_factory=list)
    is_private: bool = False
    is_archived: bool = False
    is_im: bool = False


@dataclass
class Fault:
    method: str
    status: int
    error: str | None
    retry_after: int
    times: int
    channel: str | None = None  # only calls naming this channel (ID)


class SlackState:
    """Everything the fake workspace holds. Tests read it directly or through /_sandbox/."""

    def __init__(
        self, token: str, team_id: str, bot_user: str, app_token: str = "xapp-sandbox"
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.socket = SocketHub()
        self.team_id = team_id
        self.bot_user = bot_user
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.ims: dict[str, str] = {}  # user -> DM channel ID
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, float] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.faults: deque[Fault] = deque()
        self.outage_until = 0.0
        self.latency = 0.0  # seconds every Web API call takes before it answers (a slow Slack)
        self.outage_calls = 0
        self.channel_outages: dict[str, float] = {}  # channel -> until (monotonic)
        # Slack's posting limit: about one message a second per channel, short bursts allowed.
        # Past `post_burst` messages within one second into one channel: 429, Retry-After 1.
        self.post_burst = 30
        self.rate_limited = 0  # how many posts were answered 429 for it
        self._posted: dict[str, deque[float]] = {}
        self._ids = itertools.count(1)
        self._clock = 1_700_000_000.0
        self.base_url = ""
        # what the bot token was granted: the manifest's scopes, as at install
        self.scopes: set[str] = set(manifest_scopes())
        self.used_triggers: set[str] = set()
        # response_url token -> (issued at, times used); Slack allows 5 uses within 30 minutes
        self.response_urls: dict[str, tuple[float, int]] = {}

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08X}"

    def next_ts(self) -> str:
        # Monotonic, unique, and shaped like Slack's "seconds.micro" timestamps.
        self._clock = max(self._clock + 0.000001, time.time())
        return f"{self._clock:.6f}"

    def add_user(self, user_id: str, name: str, *, real_name: str | None = None) -> None:
        self.users[user_id] = {"id": user_id, "name": name, "real_name": real_name or name}

    def add_channel(
        self,
        name: str,
        members: tuple[str, ...] = (),
        *,
        bot_member: bool = False,
        private: bool = False,
    ) -> str:
        """A channel people made. As in Slack, the bot is not in it unless it was invited
        (`bot_member`), joins it, or created it."""
        channel_id = self.next_id("G" if private else "C")
        people = set(members) | ({self.bot_user} if bot_member else set())
        self.channels[channel_id] = Channel(
            id=channel_id, name=name, members=people, is_private=private
        )
        return channel_id

    def invite_bot(self, channel: str) -> None:
        """Someone typed /invite @rollbot."""
        self.find_channel(channel).members.add(self.bot_user)

    def remove_bot(self, channel: str) -> None:
        """Someone removed rollbot from the channel (/kick @rollbot)."""
        self.find_channel(channel).members.discard(self.bot_user)

    def archive(self, channel: str) -> None:
        self.find_channel(channel).is_archived = True

    def delete_message(self, channel: str, ts: str) -> None:
        """A person deleted a message (and with it, in Slack, its thread for everyone)."""
        found = self.find_channel(channel)
        found.messages = [m for m in found.messages if ts not in (m["ts"], m.get("thread_ts"))]

    def add_usergroup(self, group_id: str, users: list[str]) -> None:
        self.usergroups[group_id] = list(users)

    def channel_by_name(self, name: str) -> Channel | None:
        return next((c for c in self.channels.values() if c.name == name.lstrip("#")), None)

    def find_channel(self, ref: str) -> Channel:
        found = self.channels.get(ref) or self.channel_by_name(ref)
        if found is None and ref in self.users:
            found = self.direct_messages(ref)
        if found is None:
            raise SlackApiError("channel_not_found")
        return found

    def direct_messages(self, user: str) -> Channel:
        """The bot's DM with a user; Slack opens it when chat.postMessage names a user ID."""
        existing = self.ims.get(user)
        if existing is not None:
            return self.channels[existing]
        channel_id = self.next_id("D")
        self.channels[channel_id] = Channel(
            id=channel_id, name=f"dm-{user}", members={user, self.bot_user}, is_im=True
        )
        self.ims[user] = channel_id
        return self.channels[channel_id]

    def issue_response_url(self, channel: str, user: str) -> str:
        token = f"R{next(self._ids):08X}"
        self.response_urls[token] = (time.monotonic(), 0)
        return f"{self.base_url}/response/{channel}/{user}/{token}"

    def issue_trigger(self) -> str:
        trigger = f"{next(self._ids)}.{int(time.time())}.sandbox"
        self.triggers[trigger] = time.monotonic()
        return trigger

    def fail_next(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int = 1,
        times: int = 1,
        channel: str | None = None,
    ) -> None:
        """Make the next `times` calls of `method` ('*' for any), into `channel` when one is
        named, fail: HTTP 429 by default, or Slack's HTTP 200 `{"ok": false, "error": ...}` when
        an error is named."""
        chosen = status if status is not None else (200 if error else 429)
        self.faults.append(Fault(method, chosen, error, retry_after, times, channel))

    def outage(self, seconds: float) -> None:
        """Every Web API call answers 429 (Retry-After: 1) or 503, alternately, for a while."""
        self.outage_until = time.monotonic() + seconds

    def over_posting_limit(self, channel: str) -> bool:
        """True when `channel` already had `post_burst` messages this second. Only messages
        that were posted count: a call Slack refused posted nothing."""
        now = time.monotonic()
        recent = self._posted.setdefault(channel, deque())
        while recent and now - recent[0] > 1.0:
            recent.popleft()
        return len(recent) >= self.post_burst

    def count_post(self, channel: str) -> None:
        self._posted.setdefault(channel, deque()).append(time.monotonic())

    def channel_outage(self, channel: str, seconds: float) -> None:
        """Every call naming `channel` answers 429 (Retry-After: 1) for a while; the rest of the
        workspace works."""
        self.channel_outages[channel] = time.monotonic() + seconds

    # --- what tests read ---------------------------------------------------------------

    def history(self, channel: str) -> list[dict[str, Any]]:
        """Top-level messages of a channel, oldest first (as a person scrolls it)."""
        return [
            m for m in self.find_channel(channel).messages if m.get("thread_ts") in (None, m["ts"])
        ]

    def direct_messages_to(self, user: str) -> list[dict[str, Any]]:
        """What the bot said to `user` by direct message, oldest first (none: no DM opened)."""
        found = self.ims.get(user)
        return [] if found is None else self.history(found)

    def replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.find_channel(channel).messages
            if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
        ]

    def ephemeral_for(self, user: str) -> list[dict[str, Any]]:
        return [e for e in self.ephemerals if e["user"] == user]

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [args for m, args in self.calls if m == method]
