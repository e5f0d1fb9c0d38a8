"""The bot token's OAuth scopes, read from the app manifest as Slack grants them at install, and
the scope each Web API method needs (from each method's page at https://api.slack.com/methods).
A method outside the token's scopes answers `missing_scope`, as Slack does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"

# method -> the scope it needs; None: any valid token (or the trigger) is enough.
METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.getPermalink": None,
    "conversations.create": "channels:manage",
    "conversations.invite": "channels:write.invites",
    "conversations.join": "channels:join",
    "conversations.info": "channels:read",  # groups:read for a private channel
    "conversations.list": "channels:read",
    "conversations.history": "channels:history",
    "conversations.replies": "channels:history",
    "users.info": "users:read",
    "usergroups.users.list": "usergroups:read",
    "views.open": None,
    "views.update": None,
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "apps.connections.open": "connections:write",
}
# The app-level token (Socket Mode) has its own scope, granted with the token.
APP_TOKEN_SCOPES = frozenset({"connections:write"})


def manifest_scopes(path: Path = MANIFEST) -> frozenset[str]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return frozenset(data["oauth_config"]["scopes"]["bot"])


def needed(method: str, private_channel: bool = False) -> str | None:
    scope = METHOD_SCOPES.get(method)
    if private_channel and scope == "channels:read":
        return "groups:read"
    return scope
