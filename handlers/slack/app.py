"""Builds the Bolt app and registers every listener on it."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack import actions, commands, errors, middleware
from handlers.slack import modals as views
from handlers.slack.deps import HandlerDeps


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    middleware.register(app)
    errors.register(app, deps)
    commands.register(app, deps)
    actions.register(app, deps)
    views.register(app, deps)


class _QuietAboutTheEnvironmentToken(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment on its own and warns, at every start,
    that the client it was given wins. Ours is tokenless on purpose (authorize supplies the
    token), so that warning would only teach people to ignore warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def build_bolt_app(*, signing_secret: str, client: AsyncWebClient, deps: HandlerDeps) -> AsyncApp:
    # process_before_response: the listener stores the request before Slack gets its answer,
    # and skips Bolt's 10 ms ack polling; long work (rollouts, Slack posts) runs off this path.
    token = client.token
    # Bolt builds each listener's client from authorize's token; its own needs none.
    tokenless = AsyncWebClient(base_url=client.base_url)

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        # One workspace, one bot token: no auth.test on the request path, so a Slack outage or
        # a 429 storm never stops rollbot from answering people.
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    bolt_log = logging.getLogger("rollbot.bolt")
    if not any(isinstance(f, _QuietAboutTheEnvironmentToken) for f in bolt_log.filters):
        bolt_log.addFilter(_QuietAboutTheEnvironmentToken())
    app = AsyncApp(
        signing_secret=signing_secret,
        client=tokenless,
        authorize=authorize,
        process_before_response=True,
        logger=bolt_log,
    )
    register(app, deps)
    return app
