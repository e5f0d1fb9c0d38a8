"""What the ack path stores for the worker: Slack's raw request, what kind it is, and the key
Slack's own retries share, so a retried request is stored (and processed) once."""

from __future__ import annotations

import functools
import hashlib
import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.usecases.inbox import Inbox

KIND = "slack"
NOT_STORED = (
    ":warning: rollbot could not store this just now (its database did not answer), so nothing "
    "was done. Try again in a moment."
)


class RequestKind(StrEnum):
    COMMAND = "command"  # a typed /rollback
    CLICK = "click"  # a card button that acts at once
    VIEW = "view"  # a submitted modal: the /rollback form or a reason


class StoredRequest(BaseModel):
    """One inbox row's payload: the kind and Slack's body exactly as it arrived (JSON)."""

    model_config = ConfigDict(frozen=True)

    kind: RequestKind
    body: str

    @classmethod
    def of(cls, kind: RequestKind, body: dict[str, Any]) -> StoredRequest:
        return cls(kind=kind, body=json.dumps(body, separators=(",", ":"), sort_keys=True))

    @classmethod
    def read(cls, payload: str) -> StoredRequest:
        """One inbox row's payload, parsed once however often the worker asks (its lane when
        claimed, then its processing)."""
        return _read(payload)

    def slack_body(self) -> dict[str, Any]:
        """Slack's body, the processing's own copy (it may add to it)."""
        found: dict[str, Any] = json.loads(self.body)
        return found

    def where(self) -> str:
        """The channel it was sent in (a command's or a click's), else the person (a modal):
        what happens in one channel keeps the order it was typed and clicked in."""
        body = _parsed(self.body)  # only read here: the cached parse, not a copy
        channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
        if channel:
            return f"channel:{channel}"
        user = body.get("user_id") or (body.get("user") or {}).get("id", "")
        return f"user:{user}"


@functools.lru_cache(maxsize=256)
def _read(payload: str) -> StoredRequest:
    return StoredRequest.model_validate_json(payload)


@functools.lru_cache(maxsize=256)
def _parsed(body: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(body)
    return found


def key_of(kind: RequestKind, body: dict[str, Any]) -> str:
    """Slack's identity of a request: a command's trigger_id, a click's action_ts with the
    person and the button, a view's id with its hash (a re-submission has a new hash)."""
    team = str((body.get("team") or {}).get("id", "") or body.get("team_id", ""))
    if kind is RequestKind.COMMAND:
        return f"cmd:{team}:{body['trigger_id']}"
    if kind is RequestKind.CLICK:
        action = (body.get("actions") or [{}])[0]
        user = (body.get("user") or {}).get("id", "")
        raw = f"{action.get('action_ts', '')}:{user}:{action.get('action_id', '')}"
        return f"act:{team}:{hashlib.sha256(raw.encode()).hexdigest()[:40]}"
    view = body.get("view") or {}
    return f"view:{team}:{view.get('id', '')}:{view.get('hash', '')}"[:128]


async def store(inbox: Inbox, kind: RequestKind, body: dict[str, Any]) -> None:
    """One inbox row for the worker; InboxUnavailableError when the database cannot take it."""
    await inbox.accept(key_of(kind, body), StoredRequest.of(kind, body).model_dump_json())
