"""Incident channels through the Slack Web API."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import ChannelError
from integrations.slack.refusals import slack_error


class SlackChannelDirectory:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def _find(self, name: str) -> str:
        cursor = None
        while True:
            page = await self._client.conversations_list(
                types="public_channel", exclude_archived=True, limit=200, cursor=cursor
            )
            for channel in page["channels"]:
                if channel["name"] == name:
                    return str(channel["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                raise ChannelError(
                    f"#{name} exists but rollbot cannot see it; invite rollbot and retry"
                )

    async def ensure_member(self, channel: str, name: str) -> None:
        where = f"#{name}" if name and name != "privategroup" else "this channel"
        cannot = (
            f"I am not in {where} and cannot join it: invite @rollbot to {where}, or run "
            "/rollback in another channel so I open an incident channel. Nothing was stored."
        )
        try:
            info = (await self._client.conversations_info(channel=channel))["channel"]
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ChannelError(
                f"Slack did not answer whether I can post in {where} ({type(exc).__name__}); "
                "nothing was stored"
            ) from None
        except SlackApiError as exc:
            if slack_error(exc) == "channel_not_found":  # private, and rollbot is not in it
                raise ChannelError(cannot) from None
            raise ChannelError(
                f"Slack did not say whether I can post in {where} "
                f"({slack_error(exc)}); nothing was stored"
            ) from None
        if info.get("is_archived"):
            raise ChannelError(
                f"{where} is archived: run /rollback in another channel so I open an incident "
                "channel. Nothing was stored."
            )
        if info.get("is_member"):
            return
        if info.get("is_private"):
            raise ChannelError(cannot)
        try:
            await self._client.conversations_join(channel=channel)
        except SlackApiError:
            raise ChannelError(cannot) from None

    async def open_incident_channel(self, name: str, invite: str | None) -> str:
        """Create #name, or reuse it when it exists; make sure rollbot and the requester are in it."""
        try:
            try:
                created = await self._client.conversations_create(name=name)
                channel = str(created["channel"]["id"])
            except SlackApiError as exc:
                if slack_error(exc) != "name_taken":
                    raise
                channel = await self._find(name)
                await self._client.conversations_join(channel=channel)
            if invite is not None:
                try:
                    await self._client.conversations_invite(channel=channel, users=invite)
                except SlackApiError as exc:
                    if slack_error(exc) != "already_in_channel":
                        raise
        except SlackApiError as exc:
            raise ChannelError(
                f"could not open incident channel #{name} ({slack_error(exc)}); nothing was stored"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ChannelError(
                f"Slack did not answer while opening #{name} ({type(exc).__name__}); nothing was "
                "stored"
            ) from None
        return channel
