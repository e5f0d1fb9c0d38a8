"""The inboxes and their workers: what Slack and Alertmanager send is stored before it is
answered, and processed behind by these workers (in `rollbot serve`, or `rollbot worker`)."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.policy import ApprovalPolicy
from bot.ports import Clock
from bot.store.uow import UnitOfWorkFactory
from bot.usecases.alert_inbox import KIND as ALERTS
from bot.usecases.alert_inbox import AlertInbox, AlertWork
from bot.usecases.alert_intake import AlertIntake
from bot.usecases.inbox import Inbox, InboxWorker
from handlers.slack.deps import HandlerDeps
from handlers.slack.stored import KIND as SLACK
from handlers.slack.work import SlackWork
from integrations.slack.announce import SlackAnnouncer


@dataclass(frozen=True)
class Workers:
    slack: InboxWorker
    alerts: AlertInbox

    def start(self) -> None:
        self.slack.start()
        self.alerts.start()

    async def stop(self) -> None:
        await self.slack.stop()
        await self.alerts.stop()

    async def drain(self) -> int:
        return await self.slack.drain() + await self.alerts.drain()


def slack_inbox(uow: UnitOfWorkFactory, clock: Clock) -> Inbox:
    return Inbox(SLACK, uow, clock)


def workers(
    deps: HandlerDeps,
    client: AsyncWebClient,
    uow: UnitOfWorkFactory,
    clock: Clock,
    policy: ApprovalPolicy,
    poll: float,
) -> Workers:
    retention = policy.inbox.retention
    slack = InboxWorker(deps.inbox, SlackWork(deps, client, retention), uow, clock, poll)
    intake = AlertIntake(deps.opening, deps.queries, uow, clock, policy)
    work = AlertWork(intake, SlackAnnouncer(client), policy.paging.incidents_channel, retention)
    alerts = AlertInbox(Inbox(ALERTS, uow, clock), work, uow, clock, poll)
    return Workers(slack=slack, alerts=alerts)
