"""Alertmanager webhooks: an alert about a known target opens a proposed rollback request in an
incident channel and runs the decision prompt. Repeats and flapping never open a second one;
resolved alerts are noted on the open request's timeline."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.domain.alerts import route_alert, severity_from_labels
from bot.domain.errors import DomainError
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy
from bot.domain.request import RollbackRequest, TargetRef
from bot.domain.targets import rollback_type_for, target_from
from bot.ports import Clock, UnknownTargetError
from bot.store.effects import record_event
from bot.store.uow import UnitOfWork
from bot.usecases.commands import OpenRollback, Origin
from bot.usecases.opening import RollbackService
from bot.usecases.queries import RequestQueries

ALERTMANAGER = Person(id="alertmanager", name="Alertmanager")


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    startsAt: str = ""
    fingerprint: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "alert")

    @property
    def identity(self) -> str:
        """Alertmanager's fingerprint, or one of our own from the labels."""
        if self.fingerprint:
            return self.fingerprint
        return hashlib.sha256(json.dumps(self.labels, sort_keys=True).encode()).hexdigest()[:16]


class AlertmanagerWebhook(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str = "4"
    status: str
    alerts: list[Alert]


def _started(starts_at: str) -> datetime | None:
    """Alertmanager's startsAt (RFC 3339), or None when it is missing or unreadable."""
    try:
        started = datetime.fromisoformat(starts_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return started if started.tzinfo else None


class AlertIntake:
    def __init__(
        self,
        service: RollbackService,
        queries: RequestQueries,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        policy: ApprovalPolicy,
    ) -> None:
        self._service = service
        self._queries = queries
        self._uow = uow
        self._clock = clock
        self._policy = policy
        # One alert at a time per target in this process: a storm of webhooks for the same
        # target finds the request the first one opened instead of racing it.
        self._locks: dict[str, asyncio.Lock] = {}

    async def _note(self, request: RollbackRequest, alert: Alert, what: str) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            await record_event(
                uow,
                request,
                now,
                actor=ALERTMANAGER,
                action=f"alert.{what}",
                payload={"alertname": alert.name, "fingerprint": alert.identity},
                timeline="alert",
                details={"alertname": alert.name, "status": what.replace("_", " ")},
            )

    async def one(self, alert: Alert) -> dict[str, Any]:
        """Route one alert and act on it. A refusal by rollbot's rules is its outcome; Slack or
        a platform turning it away (AdapterError) is raised, so the inbox tries it again."""
        route = route_alert(alert.labels, self._policy.alerts)
        if route is None:
            return {
                "alert": alert.name,
                "outcome": "ignored: no route in the policy matches its labels",
            }
        target = target_from(route.target, route.namespace)
        async with self._locks.setdefault(target.label, asyncio.Lock()), self._uow() as guard:
            # and one at a time per target across replicas, held while the request opens
            await guard.hold_lock(f"rollbot.alert-target:{target.label}")
            return await self._for_target(alert, target)

    async def _for_target(self, alert: Alert, target: TargetRef) -> dict[str, Any]:
        open_requests = [r for r in await self._queries.history(target) if r.state.is_open]
        if alert.status == "resolved":
            if open_requests:
                await self._note(open_requests[0], alert, "resolved")
                return {"alert": alert.name, "outcome": "noted", "request": open_requests[0].id}
            return {"alert": alert.name, "outcome": "resolved; no open request"}
        if open_requests:
            await self._note(open_requests[0], alert, "firing_again")
            return {"alert": alert.name, "outcome": "duplicate", "request": open_requests[0].id}
        summary = (
            alert.annotations.get("summary") or alert.annotations.get("description") or alert.name
        )
        command = OpenRollback(
            target=target,
            rollback_type=rollback_type_for(target, None),
            to_revision=None,
            severity=severity_from_labels(alert.labels),
            reason=f"alert {alert.name}: {summary}"[:1000],
            ticket=None,
            detected_at=_started(alert.startsAt),
        )
        try:
            result = await self._service.open_request(
                command,
                actor=ALERTMANAGER,
                origin=Origin(channel_id="", channel_name="alertmanager", automated=True),
                idempotency_key=f"alert:{alert.identity}:{alert.startsAt}",
            )
        except (DomainError, UnknownTargetError) as exc:  # an answer, not a hiccup
            return {"alert": alert.name, "outcome": f"refused: {exc}"}
        return {
            "alert": alert.name,
            "outcome": "opened" if result.created else "duplicate",
            "request": result.request.id,
        }
