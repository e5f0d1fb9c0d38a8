"""One line in a channel, sent now: for what has no request whose outbox could carry it."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import AdapterError
from integrations.slack.refusals import slack_error


class SlackAnnouncer:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client  # its timeout bounds the call

    async def announce(self, channel: str, text: str) -> None:
        try:
            await self._client.chat_postMessage(channel=channel, text=text)
        except SlackApiError as exc:
            raise AdapterError(f"Slack refused the message: {slack_error(exc)}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AdapterError(f"Slack could not be reached: {exc!r}") from exc
