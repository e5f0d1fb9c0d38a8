"""Acts as a person in Slack: builds real slash-command and interaction bodies, signs them with
Slack's v0 scheme and POSTs them to the bot, exactly as Slack's servers would."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from sandbox.slack.state import SlackState


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class BotReply:
    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class SlackDriver:
    _last_action = 0.0  # shared by every driver in the process, as Slack's clock is

    def __init__(self, bot_url: str, signing_secret: str, slack: SlackState) -> None:
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.slack = slack
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SlackDriver:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    def signed_headers(
        self, body: bytes, *, timestamp: int | None = None, secret: str | None = None
    ) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": slack_signature(secret or self.signing_secret, ts, body),
        }

    async def post(
        self,
        body: bytes,
        content_type: str = "application/x-www-form-urlencoded",
        *,
        headers: dict[str, str] | None = None,
        retry_num: int | None = None,
    ) -> BotReply:
        assert self._session is not None, "use `async with SlackDriver(...)`"
        sent = {
            "Content-Type": content_type,
            **(headers if headers is not None else self.signed_headers(body)),
        }
        if retry_num is not None:
            sent["X-Slack-Retry-Num"] = str(retry_num)
            sent["X-Slack-Retry-Reason"] = "http_timeout"
        async with self._session.post(self.bot_url, data=body, headers=sent) as resp:
            return BotReply(resp.status, await resp.text())

    def command_body(
        self, user: str, channel: str, text: str, *, command: str = "/rollback"
    ) -> bytes:
        return urlencode(command_fields(self.slack, user, channel, text, command=command)).encode()

    async def command(self, user: str, channel: str, text: str, **kw: Any) -> BotReply:
        """Type `/rollback <text>` in a channel."""
        return await self.post(self.command_body(user, channel, text), **kw)

    def _interaction(self, payload: dict[str, Any]) -> bytes:
        return urlencode({"payload": json.dumps(payload)}).encode()

    def _user(self, user: str) -> dict[str, Any]:
        return {
            "id": user,
            "username": self.slack.users.get(user, {}).get("name", user),
            "name": self.slack.users.get(user, {}).get("name", user),
            "team_id": self.slack.team_id,
        }

    def _action_ts(self) -> str:
        """Slack stamps each click with its own action_ts; two clicks in one microsecond from
        this driver must still differ, as two real clicks always do."""
        SlackDriver._last_action = max(time.time(), SlackDriver._last_action + 1e-6)
        return f"{SlackDriver._last_action:.6f}"

    async def click(
        self, user: str, channel: str, message: dict[str, Any], action_id: str, **kw: Any
    ) -> BotReply:
        """Click the button with `action_id` on a message as the sandbox holds it."""
        block_id, element = _find_element(message, action_id)
        payload = {
            "type": "block_actions",
            "team": {"id": self.slack.team_id, "domain": "sandbox"},
            "user": self._user(user),
            "api_app_id": "A0ROLLBOT",
            "token": "deprecated-verification-token",
            "trigger_id": self.slack.issue_trigger(),
            "channel": {"id": channel, "name": self.slack.channels[channel].name},
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": bool(message.get("is_ephemeral", False)),
            },
            "message": message,
            "response_url": self.slack.issue_response_url(channel, user),
            "actions": [
                {
                    "type": element.get("type", "button"),
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": element.get("text", {"type": "plain_text", "text": ""}),
                    "value": element.get("value", ""),
                    "action_ts": self._action_ts(),
                }
            ],
        }
        return await self.post(self._interaction(payload), **kw)

    async def submit_view(
        self, user: str, view_id: str, values: dict[str, dict[str, dict[str, Any]]], **kw: Any
    ) -> BotReply:
        """Submit an open modal with `values` keyed by block_id, then action_id."""
        view = self.slack.views[view_id]
        payload = {
            "type": "view_submission",
            "team": {"id": self.slack.team_id, "domain": "sandbox"},
            "user": self._user(user),
            "api_app_id": "A0ROLLBOT",
            "token": "deprecated-verification-token",
            "trigger_id": self.slack.issue_trigger(),
            "view": {**view, "state": {"values": values}},
        }
        return await self.post(self._interaction(payload), **kw)


def command_fields(
    slack: SlackState, user: str, channel: str, text: str, *, command: str = "/rollback"
) -> dict[str, str]:
    """The fields Slack sends for a slash command (form-encoded over HTTP, JSON in Socket Mode)."""
    channel_name = slack.channels[channel].name if channel in slack.channels else "unknown"
    return {
        "token": "deprecated-verification-token",
        "team_id": slack.team_id,
        "team_domain": "sandbox",
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": slack.users.get(user, {}).get("name", user),
        "command": command,
        "text": text,
        "api_app_id": "A0ROLLBOT",
        "is_enterprise_install": "false",
        "response_url": slack.issue_response_url(channel, user),
        "trigger_id": slack.issue_trigger(),
    }


async def socket_command(slack: SlackState, user: str, channel: str, text: str) -> dict[str, Any]:
    """Type `/rollback <text>` with the bot connected over Socket Mode; returns the ack payload."""
    return await slack.socket.push("slash_commands", command_fields(slack, user, channel, text))


def _find_element(message: dict[str, Any], action_id: str) -> tuple[str, dict[str, Any]]:
    for block in message.get("blocks", []):
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return block.get("block_id", ""), element
    raise LookupError(f"no element {action_id!r} on message {message.get('ts')}")
