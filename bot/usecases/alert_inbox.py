"""Alertmanager webhooks through the inbox: answered 200 only once stored, processed behind.

Alertmanager never sends a webhook again after a 200, so the 200 has to mean "stored": a
webhook the database cannot take is answered 503 and Alertmanager retries it. A worker then
routes each alert (opening a request, or noting a repeat on the open one). An alert whose
processing Slack or the database turned away is tried again with backoff, and the alerts of the
webhook already handled are not handled twice. A re-send of the same group with the same alerts
(fingerprints, status, startsAt) is stored once, so it adds nothing to any timeline.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import structlog

from bot.ports import AdapterError, Announcer
from bot.store.engine import is_transient
from bot.store.inbox import InboxItem
from bot.usecases.alert_intake import Alert, AlertIntake, AlertmanagerWebhook
from bot.usecases.inbox import Accepted, InboxRules, InboxWorker, TryAgainError

log = structlog.get_logger("rollbot.alert_inbox")
KIND = "alertmanager"
RULES = InboxRules(
    attempts=10, first_backoff=timedelta(seconds=5), max_backoff=timedelta(minutes=5)
)


def alert_key(alert: Alert) -> str:
    return f"{alert.identity}:{alert.status}:{alert.startsAt}"


def webhook_key(webhook: AlertmanagerWebhook) -> str:
    """The same group with the same alerts is the same webhook, whenever it is sent."""
    keys = sorted(alert_key(a) for a in webhook.alerts)
    return hashlib.sha256(json.dumps(keys).encode()).hexdigest()


class AlertWork:
    """Routes each alert of a stored webhook; a webhook given up is said in the incidents
    channel, because an alert nobody sees is an incident nobody handles."""

    def __init__(
        self,
        intake: AlertIntake,
        announcer: Announcer,
        incidents_channel: str | None,
        retention: timedelta = RULES.retention,
    ) -> None:
        self._intake = intake
        self._announcer = announcer
        self._incidents = incidents_channel
        self.rules = replace(RULES, retention=retention)

    async def process(self, item: InboxItem) -> str:
        webhook = AlertmanagerWebhook.model_validate_json(item.payload)
        outcomes: list[dict[str, Any]] = list(json.loads(item.outcomes))
        done = {o.get("key") for o in outcomes}
        for alert in webhook.alerts:
            key = alert_key(alert)
            if key in done:
                continue
            try:
                outcome = await self._intake.one(alert)
            except Exception as exc:
                if not (isinstance(exc, AdapterError) or is_transient(exc)):
                    raise
                raise TryAgainError(exc, json.dumps(outcomes)) from exc
            outcomes.append({"key": key, **outcome})
        return json.dumps(outcomes)

    def lane(self, item: InboxItem) -> str:
        return "alerts"  # one lane: a group's firing and its resolution are heard in order

    async def given_up(self, item: InboxItem, correlation: str, error: str) -> None:
        if self._incidents is None:
            return
        webhook = AlertmanagerWebhook.model_validate_json(item.payload)
        names = ", ".join(sorted({a.name for a in webhook.alerts}))
        await self._announcer.announce(
            self._incidents,
            f":rotating_light: An Alertmanager alert ({names}) could not be handled after "
            f"{item.attempts + 1} tries, so no rollback request was opened for it. Look at it "
            f"in Alertmanager and run /rollback by hand if it needs one. Last error: {error[:300]}. "
            f"Correlation id `{correlation}`.",
        )


class AlertInbox(InboxWorker):
    async def accept_webhook(self, webhook: AlertmanagerWebhook) -> Accepted:
        return await self.inbox.accept(webhook_key(webhook), webhook.model_dump_json())

    async def alert_outcomes(self, item: int) -> list[dict[str, Any]] | None:
        """What processing did with each alert, once it finished; None before."""
        found = await self.inbox.outcomes(item)
        return None if found is None else list(json.loads(found))
