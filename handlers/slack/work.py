"""The inbox worker's Slack half: a stored command, click or modal submission is handed to the
listener step it was stored for, and the person hears the outcome.

A refusal (a rule of rollbot's, or what Slack, a cluster or a cloud API answered) is the
outcome: it is said to the person once and the item is done. Anything else (the database was
busy, a bug) is tried again by the inbox worker, and after the last try the person is told,
with a correlation id to quote.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import structlog
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.errors import DomainError
from bot.ports import AdapterError
from bot.store.inbox import InboxItem
from bot.usecases.inbox import InboxRules
from handlers.blockkit import cards
from handlers.blockkit.cards import Message
from handlers.slack import actions, commands, modals
from handlers.slack.context import actor_of
from handlers.slack.deps import HandlerDeps
from handlers.slack.errors import message_for
from handlers.slack.replies import answer
from handlers.slack.stored import RequestKind, StoredRequest

log = structlog.get_logger("rollbot.slack")

# The person is waiting: a few quick tries, then they are told. Channels are worked on side by
# side, so one incident's slow cluster does not hold up another incident's command.
RULES = InboxRules(
    attempts=3,
    first_backoff=timedelta(seconds=2),
    max_backoff=timedelta(seconds=30),
    batch=50,
    lanes=16,
)

Run = Callable[[dict[str, Any], HandlerDeps, AsyncWebClient], Awaitable[Message | None]]


async def _click(body: dict[str, Any], deps: HandlerDeps, client: AsyncWebClient) -> None:
    await actions.run_stored(body, deps)


async def _view(body: dict[str, Any], deps: HandlerDeps, client: AsyncWebClient) -> Message | None:
    return await modals.run_stored(body, deps)


RUNS: dict[RequestKind, Run] = {
    RequestKind.COMMAND: commands.run_stored,
    RequestKind.CLICK: _click,
    RequestKind.VIEW: _view,
}


class SlackWork:
    def __init__(
        self, deps: HandlerDeps, client: AsyncWebClient, retention: timedelta = RULES.retention
    ) -> None:
        self._deps = deps
        self._client = client
        self.rules = replace(RULES, retention=retention)

    async def process(self, item: InboxItem) -> str:
        stored = StoredRequest.read(item.payload)
        body = stored.slack_body()
        try:
            said = await RUNS[stored.kind](body, self._deps, self._client)
        except (DomainError, AdapterError) as exc:
            outcome, text = message_for(exc)
            self._deps.metrics.commands.labels(outcome=outcome).inc()
            # the person is told; the log says it too, for whoever looks into it later
            log.info(
                "request.refused",
                inbox=item.id,
                kind=stored.kind.value,
                actor=actor_of(body).name,
                channel=stored.where(),
                reason=str(exc),
            )
            await answer(body, cards.ephemeral(text), self._client)
            return json.dumps({"outcome": outcome, "said": text})
        if said is not None:
            await answer(body, said, self._client)
        return json.dumps({"outcome": "done", "said": (said or {}).get("text", "")})

    def lane(self, item: InboxItem) -> str:
        return StoredRequest.read(item.payload).where()

    async def given_up(self, item: InboxItem, correlation: str, error: str) -> None:
        body = StoredRequest.read(item.payload).slack_body()
        self._deps.metrics.commands.labels(outcome="error").inc()
        text = (
            f":boom: rollbot could not finish this after {item.attempts + 1} tries. Look at the "
            "request's card or `/rollback status` before trying again; if it fails again, quote "
            f"correlation id `{correlation}` to the rollbot maintainers."
        )
        await answer(body, cards.ephemeral(text), self._client)
