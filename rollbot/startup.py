"""What `rollbot serve` and `rollbot worker` check before they take traffic, so a wrong setting
fails at start-up with one line naming the variable, not during the first incident."""

from __future__ import annotations

import structlog
from slack_sdk.errors import SlackApiError

from bot.config.settings import Settings

log = structlog.get_logger("rollbot.startup")
# Slack's answers to auth.test that mean the token itself is wrong (not a passing outage)
_BAD_TOKEN = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)


def executor_problem(settings: Settings) -> str | None:
    if settings.executor is None:
        return (
            "ROLLBOT_EXECUTOR is not set: set it to kubernetes to roll back for real, or to none "
            "to start a bot that refuses every target"
        )
    if settings.executor == "none":
        log.warning(
            "executor_none",
            message="ROLLBOT_EXECUTOR=none: every rollback target is refused; "
            "set ROLLBOT_EXECUTOR=kubernetes to roll back",
        )
    return None


async def slack_token_problem(settings: Settings) -> str | None:
    """auth.test once: a refused token stops the start; an unreachable Slack does not (the
    inbox keeps what arrives and delivery catches up), it is logged."""
    from integrations.slack.delivery import client_for

    client = client_for(
        settings.slack_bot_token, settings.slack_api_url, settings.slack_timeout_seconds
    )
    try:
        answer = await client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error", ""))
        if error in _BAD_TOKEN:
            return (
                f"Slack refused SLACK_BOT_TOKEN ({error}): use the app's Bot User OAuth Token "
                "(xoxb-…) from its OAuth & Permissions page"
            )
        log.warning("slack_auth_test_failed", error=error)
        return None
    except Exception as exc:
        log.warning("slack_unreachable_at_start", error=repr(exc))
        return None
    log.info("slack_token_ok", team_id=answer.get("team_id"), bot_user=answer.get("user_id"))
    return None
