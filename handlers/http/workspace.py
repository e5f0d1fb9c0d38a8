"""Requests from elsewhere are refused: a body signed with our secret but sent for another
workspace, enterprise or app (a shared signing secret, a replay across installs) is not ours."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from slack_sdk.web.async_client import AsyncWebClient

log = structlog.get_logger("rollbot.workspace")


@dataclass(frozen=True)
class Home:
    """Where rollbot is installed: its workspace(s), its enterprise (if any), its app."""

    team_ids: frozenset[str]
    enterprise_id: str | None = None
    app_id: str | None = None


def _id(body: Mapping[str, Any], flat: str, nested: str) -> str | None:
    """Slash commands carry `team_id`; interactions carry `team: {id}`."""
    value = body.get(flat)
    if value is None and isinstance(body.get(nested), Mapping):
        value = body[nested].get("id")
    return str(value) if value else None


def foreign(body: Mapping[str, Any], home: Home) -> str | None:
    """Why the body is not for this install, or None when it is."""
    team = _id(body, "team_id", "team")
    if team is not None and team not in home.team_ids:
        return f"team_id {team} is not this workspace"
    enterprise = _id(body, "enterprise_id", "enterprise")
    if (
        enterprise is not None
        and home.enterprise_id is not None
        and enterprise != home.enterprise_id
    ):
        return f"enterprise_id {enterprise} is not this enterprise"
    app = body.get("api_app_id")
    if app is not None and home.app_id is not None and str(app) != home.app_id:
        return f"api_app_id {app} is not this app"
    return None


class WorkspaceGuard:
    """Learns the install from `auth.test` once (the first request waits for it), then judges
    every request by `foreign`."""

    def __init__(
        self, client: AsyncWebClient, app_id: str | None, also: tuple[str, ...] = ()
    ) -> None:
        self._client = client
        self._app_id = app_id
        self._also = frozenset(also)
        self._home: Home | None = None

    async def home(self) -> Home:
        if self._home is None:
            answer = await self._client.auth_test()
            team = str(answer.get("team_id") or "")
            enterprise = answer.get("enterprise_id")
            self._home = Home(
                team_ids=frozenset({team, *self._also} - {""}),
                enterprise_id=str(enterprise) if enterprise else None,
                app_id=self._app_id,
            )
            log.info("workspace_learned", team_id=team, enterprise_id=enterprise)
        return self._home

    async def refusal(self, body: Mapping[str, Any]) -> str | None:
        reason = foreign(body, await self.home())
        if reason is not None:
            log.warning("request_from_elsewhere", reason=reason)
        return reason
