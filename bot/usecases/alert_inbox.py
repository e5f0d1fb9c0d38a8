"""Alertmanager webhooks through the inbox: answered 200 only once stored, processed behind.

Alertmanager never sends a webhook again after a 200, so the 200 has to mean "stored": a
webhook the database cannot take is answered 503 and Alertmanager retries it. A worker then
routes each alert (opening a request, or noting a repeat on the open one). An alert whose
processing Slack or the database turned away is tried again with backoff, and the alerts of the
webhook already handled are not handled twice. A re-send of the same group with the same alerts
(fingerprints, status, startsAt) is stored once, so it adds nothing to any timeline.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from bot.ports import AdapterError, Clock
from bot.store.engine import is_transient
from bot.store.uow import UnitOfWork
from bot.usecases.alert_intake import Alert, AlertIntake, AlertmanagerWebhook
from bot.usecases.background import WakeLoop

log = structlog.get_logger("rollbot.alert_inbox")
KIND = "alertmanager"
# Each try is held this long; a worker that died holding it is replaced after it.
HOLD = timedelta(minutes=2)
ATTEMPTS = 10
# Processed webhooks are kept this long (to answer "what did that alert do?"), then forgotten.
RETENTION = timedelta(days=30)
MAX_BACKOFF = timedelta(minutes=5)


class InboxUnavailableError(Exception):
    """The database could not store what arrived: the sender must send it again."""


@dataclass(frozen=True)
class Accepted:
    item: int | None  # None: the same webhook was stored before
    stored: bool = True


def alert_key(alert: Alert) -> str:
    return f"{alert.identity}:{alert.status}:{alert.startsAt}"


def webhook_key(webhook: AlertmanagerWebhook) -> str:
    """The same group with the same alerts is the same webhook, whenever it is sent."""
    keys = sorted(alert_key(a) for a in webhook.alerts)
    return hashlib.sha256(json.dumps(keys).encode()).hexdigest()


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=5 * 2 ** min(attempts, 10)), MAX_BACKOFF)


class AlertInbox:
    def __init__(self, intake: AlertIntake, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._intake = intake
        self._uow = uow
        self._clock = clock
        self._loop = WakeLoop("alert_inbox", self.drain, poll=5.0, log=log)
        self._lock = asyncio.Lock()
        self._pruned_at: datetime | None = None

    async def _prune(self) -> None:
        now = self._clock.now()
        if self._pruned_at is not None and now - self._pruned_at < timedelta(hours=1):
            return
        async with self._uow() as uow:
            gone = await uow.inbox.prune(now - RETENTION)
        self._pruned_at = now
        if gone:
            log.info("alert_inbox_pruned", webhooks=gone, older_than_days=RETENTION.days)

    async def accept(self, webhook: AlertmanagerWebhook) -> Accepted:
        """Store the webhook in one statement; InboxUnavailableError when the database cannot."""
        try:
            async with self._uow() as uow:
                item = await uow.inbox.add(
                    KIND, webhook_key(webhook), webhook.model_dump_json(), self._clock.now()
                )
        except Exception as exc:
            if is_transient(exc) or isinstance(exc, OSError | TimeoutError):
                log.warning("alert_not_stored", error=repr(exc))
                raise InboxUnavailableError(str(exc)) from exc
            raise
        self._loop.wake()
        return Accepted(item)

    async def outcomes(self, item: int) -> list[dict[str, Any]] | None:
        """What processing did with each alert, once it finished; None before."""
        async with self._uow() as uow:
            found = await uow.inbox.outcomes(item)
        if found is None or not found[1]:
            return None
        return list(json.loads(found[0]))

    async def drain(self) -> int:
        """Process everything waiting and due; return how many webhooks finished."""
        async with self._lock:
            await self._prune()
            finished = 0
            while True:
                now = self._clock.now()
                async with self._uow() as uow:
                    items = await uow.inbox.claim(KIND, now, now + HOLD, limit=20)
                if not items:
                    return finished
                for item in items:
                    finished += await self._process(
                        item.id, item.payload, item.attempts, item.outcomes
                    )

    async def _process(self, item: int, payload: str, attempts: int, so_far: str) -> int:
        webhook = AlertmanagerWebhook.model_validate_json(payload)
        outcomes: list[dict[str, Any]] = list(json.loads(so_far))
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
                await self._postpone(item, attempts, outcomes, exc)
                return 0
            outcomes.append({"key": key, **outcome})
        async with self._uow() as uow:
            await uow.inbox.processed(item, self._clock.now(), json.dumps(outcomes))
        return 1

    async def _postpone(
        self, item: int, attempts: int, outcomes: list[dict[str, Any]], error: Exception
    ) -> None:
        last = attempts + 1 >= ATTEMPTS
        when = self._clock.now() + (timedelta(0) if last else _backoff(attempts))
        async with self._uow() as uow:
            await uow.inbox.postpone(item, when, repr(error), json.dumps(outcomes), failed=last)
        if last:
            log.error("alert_given_up", inbox=item, attempts=attempts + 1, error=repr(error))
        else:
            log.warning("alert_postponed", inbox=item, attempts=attempts + 1, error=repr(error))

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
