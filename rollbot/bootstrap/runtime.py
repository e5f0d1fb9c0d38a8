"""Composition root: settings -> store -> integrations -> Bolt app -> HTTP server."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit.keys import AuditSigner, load_signing_key
from bot.config.metrics import Metrics
from bot.config.policy_file import load_policy
from bot.config.settings import Settings
from bot.domain.policy import ApprovalPolicy
from bot.duework.reminders import Reminders
from bot.duework.scheduler import DueWork
from bot.duework.watch import RecoveryWatch
from bot.ports import (
    Clock,
    ConfigVersions,
    EvidenceStore,
    Executor,
    SystemClock,
    Verifier,
)
from bot.store import migrate
from bot.store.config_versions import StoredConfigVersions
from bot.store.due_items import DueKind
from bot.store.engine import create_engine, is_sqlite
from bot.store.gauges import read_gauges
from bot.store.uow import UnitOfWorkFactory
from bot.usecases.addenda import Addenda, AddendumRetries, Retries
from bot.usecases.aftercare import Aftercare
from bot.usecases.alert_inbox import AlertInbox
from bot.usecases.anchors import CheckpointAnchors
from bot.usecases.approvals import Approvals
from bot.usecases.audit_keys import check_signing_key, record_checkpoint_rule
from bot.usecases.decisions import Decisions
from bot.usecases.evidence import EvidenceRecorder
from bot.usecases.execution import ExecutionRunner
from bot.usecases.inbox import Inbox
from bot.usecases.leasing import LeaseRules
from bot.usecases.opening import RollbackService
from bot.usecases.outbox import OutboxService
from bot.usecases.queries import RequestQueries
from bot.usecases.readiness import Check, Readiness
from bot.usecases.recovery_evidence import RecoveryEvidence
from bot.usecases.reports import ReportService
from bot.usecases.step_log import StepLog
from bot.usecases.transition import Transitions
from handlers.blockkit.notices import render as render_notice
from handlers.http.web import build_web_app
from handlers.http.workspace import WorkspaceGuard
from handlers.slack.app import build_bolt_app
from handlers.slack.deps import HandlerDeps
from integrations.evidence.store import store_from
from integrations.health.checks import HttpVerifier
from integrations.health.series import PrometheusHistory
from integrations.reports.html import charts as report_charts
from integrations.reports.recovery_chart import recovery_png
from integrations.slack.announce import SlackAnnouncer
from integrations.slack.channels import SlackChannelDirectory
from integrations.slack.delivery import SlackDelivery, client_for
from integrations.slack.pacing import ChannelPace
from integrations.slack.roles import SlackRoleDirectory
from rollbot.bootstrap.drills import http_routes
from rollbot.bootstrap.inboxes import Workers, slack_inbox, workers
from rollbot.bootstrap.readiness import readiness


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    uow: UnitOfWorkFactory
    opening: RollbackService
    queries: RequestQueries
    decisions: Decisions
    approvals: Approvals
    aftercare: Aftercare
    executions: ExecutionRunner
    due: DueWork
    reminders: Reminders
    watch: RecoveryWatch
    reports: ReportService
    evidence: EvidenceRecorder
    outbox: OutboxService
    delivery: SlackDelivery
    alerts: AlertInbox
    workers: Workers
    anchors: CheckpointAnchors
    metrics: Metrics
    http_app: web.Application
    bolt: AsyncApp
    _runner: web.AppRunner | None = None

    async def serve_http(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Start the HTTP server (port 0: any free port) and return the events URL."""
        self._runner = web.AppRunner(self.http_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://{host}:{bound}/slack/events"

    async def settle(self) -> None:
        """Let stored alerts and started rollbacks finish and deliver everything to Slack
        (tests, demo, shutdown)."""
        await self.workers.drain()
        await self.executions.drain()
        await self.delivery.drain()
        await self.anchors.drain()

    async def close(self) -> None:
        self.due.stop()
        await self.workers.stop()
        await self.executions.drain()
        await self.delivery.stop()
        await self.anchors.drain()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.engine.dispose()


@dataclass(frozen=True)
class _Core:
    """The use cases, built on one unit of work factory."""

    opening: RollbackService
    queries: RequestQueries
    transitions: Transitions
    decisions: Decisions
    approvals: Approvals
    aftercare: Aftercare
    evidence: EvidenceRecorder
    executions: ExecutionRunner
    reminders: Reminders
    watch: RecoveryWatch
    reports: ReportService
    due: DueWork


def _addenda(
    settings: Settings,
    uow: UnitOfWorkFactory,
    clock: Clock,
    policy: ApprovalPolicy,
    store: EvidenceStore,
) -> tuple[Addenda, RecoveryEvidence]:
    """What joins an evidence pack after it is sealed, and the recovery charts that do."""
    addenda = Addenda(uow, clock, store, uow.signer)
    history = PrometheusHistory(timeout=settings.health_timeout_seconds)
    return addenda, RecoveryEvidence(uow, clock, policy, history, recovery_png, addenda)


def _core(
    settings: Settings,
    uow: UnitOfWorkFactory,
    clock: Clock,
    policy: ApprovalPolicy,
    adapters: tuple[Mapping[str, Executor], Verifier, EvidenceStore, AsyncWebClient],
) -> _Core:
    executors, verifier, store, client = adapters
    roles = SlackRoleDirectory(policy, client, clock)
    lease = timedelta(seconds=settings.execution_lease_seconds)
    transitions = Transitions(uow, clock, lease=lease, policy=policy)
    evidence = EvidenceRecorder(uow, clock, store, executors, policy.evidence)
    executions = ExecutionRunner(
        transitions=transitions,
        evidence=evidence,
        uow=uow,
        clock=clock,
        executors=executors,
        verifier=verifier,
        rules=LeaseRules(
            stall=timedelta(seconds=settings.execution_stall_seconds),
            deadline=timedelta(seconds=settings.execution_deadline_seconds),
            grace=timedelta(seconds=settings.takeover_grace_seconds),
        ),
    )
    reminders = Reminders(uow, clock, policy)
    addenda, recovery = _addenda(settings, uow, clock, policy, store)
    aftercare = Aftercare(transitions, roles, addenda)
    retries: Retries = {DueKind.RECOVERY_CHARTS: recovery.watch_ended}
    retries[DueKind.POSTMORTEM_ADDENDUM] = aftercare.postmortem_addendum
    watch = RecoveryWatch(uow, clock, transitions, verifier, recovery)
    opening = RollbackService(
        uow=uow,
        clock=clock,
        policy=policy,
        roles=roles,
        channels=SlackChannelDirectory(client),
        executors=executors,
        announcer=SlackAnnouncer(client),
    )
    due = DueWork(
        uow, clock, transitions, evidence, reminders, watch, executions, settings.tick_seconds
    )
    due.addenda = AddendumRetries(uow, clock, retries)
    return _Core(
        opening=opening,
        queries=RequestQueries(uow, roles),
        transitions=transitions,
        decisions=Decisions(transitions, roles),
        approvals=Approvals(transitions, roles, executors),
        aftercare=aftercare,
        evidence=evidence,
        executions=executions,
        reminders=reminders,
        watch=watch,
        reports=ReportService(uow, clock, roles, policy.reporting, store),
        due=due,
    )


def _http(
    settings: Settings,
    core_and_clock: tuple[_Core, Clock],
    bolt: AsyncApp,
    metrics: Metrics,
    engine: AsyncEngine,
    routes: list[web.RouteDef],
    surface: tuple[WorkspaceGuard, Readiness],
) -> web.Application:
    _, clock = core_and_clock
    guard, ready = surface

    async def health() -> None:
        """Liveness: the process answers. What it depends on is /readyz."""

    async def gauges() -> None:
        metrics.publish(await read_gauges(engine, clock.now()))

    return build_web_app(
        bolt,
        metrics,
        health,
        routes,
        signing_secret=settings.slack_signing_secret,
        guard=guard,
        before_scrape=gauges,
        readiness=ready,
    )


def _handler_deps(core: _Core, metrics: Metrics, clock: Clock, inbox: Inbox) -> HandlerDeps:
    return HandlerDeps(
        opening=core.opening,
        queries=core.queries,
        decisions=core.decisions,
        approvals=core.approvals,
        aftercare=core.aftercare,
        metrics=metrics,
        reports=core.reports,
        charts=report_charts,
        clock=clock,
        inbox=inbox,
    )


def unit_of_work(settings: Settings, engine: AsyncEngine) -> UnitOfWorkFactory:
    """Transactions on the engine, their audit entries signed with the audit key."""
    # The embedded SQLite setup may make its own key (and says where); anything shared never
    # signs with a key nobody configured.
    key = load_signing_key(
        key_b64=settings.audit_signing_key,
        path=settings.audit_key_file,
        create=is_sqlite(settings.database_url),
    )
    return UnitOfWorkFactory(engine, AuditSigner(key, every=settings.audit_checkpoint_every))


async def _storage(settings: Settings, check_schema: bool) -> tuple[AsyncEngine, UnitOfWorkFactory]:
    """The database, and the unit of work that signs its audit log with the key it was signed
    with (a process holding another key refuses to start)."""
    engine = await _engine(settings, check_schema)
    uow = unit_of_work(settings, engine)
    if check_schema:
        await check_signing_key(engine, uow.signer)
    return engine, uow


def _subscribe(
    uow: UnitOfWorkFactory,
    delivery: SlackDelivery,
    executions: ExecutionRunner,
    store: EvidenceStore,
    metrics: Metrics,
) -> CheckpointAnchors:
    """The commit is the event bus: what a committed unit of work changed reaches these."""
    uow.on_commit(delivery.on_commit)
    uow.on_commit(executions.on_commit)
    anchors = CheckpointAnchors(store)
    uow.on_commit(anchors.on_commit)  # every signed checkpoint, also outside the database
    # one log event per step for the people on call, and the counters they alert on
    uow.on_commit(StepLog(metrics).on_commit)
    return anchors


async def _engine(settings: Settings, check_schema: bool) -> AsyncEngine:
    engine = create_engine(settings.database_url, settings.database_busy_timeout_seconds)
    if check_schema:
        try:
            await migrate.ensure_schema(engine)
        except BaseException:
            await engine.dispose()
            raise
    return engine


def _delivery(
    settings: Settings,
    uow_and_clock: tuple[UnitOfWorkFactory, Clock],
    policy: ApprovalPolicy,
    client: AsyncWebClient,
    metrics: Metrics,
) -> tuple[OutboxService, SlackDelivery]:
    """The outbox and what delivers it to Slack, at the pace Slack allows a channel."""
    uow, clock = uow_and_clock
    outbox = OutboxService(uow, clock, policy.paging.incidents_channel)
    pace = ChannelPace(settings.slack_channel_messages_per_second, settings.slack_channel_burst)
    return outbox, SlackDelivery(outbox, client, metrics, clock, render_notice, pace=pace)


def _instrument(core: _Core, metrics: Metrics) -> None:
    """What /metrics says about the process itself: its build, and the scheduler's heartbeat."""
    metrics.build.info({"version": version("rollbot")})
    core.due.on_tick(lambda: metrics.scheduler_last_tick.set(time.time()))


async def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    policy: ApprovalPolicy | None = None,
    executors: Mapping[str, Executor]
    | Callable[[ConfigVersions], Mapping[str, Executor]]
    | None = None,
    verifier: Verifier | None = None,
    evidence_store: EvidenceStore | None = None,
    check_schema: bool = True,
    probes: Mapping[str, Check] | None = None,
) -> Runtime:
    clock = clock or SystemClock()
    policy = policy or load_policy(settings.policy_file)
    engine, uow = await _storage(settings, check_schema)
    made = executors(StoredConfigVersions(uow, clock)) if callable(executors) else executors
    metrics = Metrics()
    client = client_for(
        settings.slack_bot_token, settings.slack_api_url, settings.slack_timeout_seconds
    )
    store = evidence_store or store_from(settings, policy.evidence.retention, clock)
    verifier = verifier or HttpVerifier(policy, timeout=settings.health_timeout_seconds)
    core = _core(settings, uow, clock, policy, (made or {}, verifier, store, client))
    outbox, delivery = _delivery(settings, (uow, clock), policy, client, metrics)
    anchors = _subscribe(uow, delivery, core.executions, store, metrics)
    _instrument(core, metrics)
    if check_schema:
        await record_checkpoint_rule(uow, clock.now())
    deps = _handler_deps(core, metrics, clock, slack_inbox(uow, clock))
    bolt = build_bolt_app(signing_secret=settings.slack_signing_secret, client=client, deps=deps)
    inboxes = workers(deps, client, uow, clock, policy, settings.inbox_poll_seconds)
    guard = WorkspaceGuard(client, settings.slack_app_id, policy.workspaces)
    ready = readiness(engine, client, core.due, clock, probes or {})
    routes = http_routes(settings, inboxes.alerts, (uow, clock, policy, made or {}))
    http_app = _http(settings, (core, clock), bolt, metrics, engine, routes, (guard, ready))
    return Runtime(
        settings=settings,
        engine=engine,
        uow=uow,
        opening=core.opening,
        queries=core.queries,
        decisions=core.decisions,
        approvals=core.approvals,
        aftercare=core.aftercare,
        executions=core.executions,
        due=core.due,
        reminders=core.reminders,
        watch=core.watch,
        reports=core.reports,
        evidence=core.evidence,
        outbox=outbox,
        delivery=delivery,
        alerts=inboxes.alerts,
        workers=inboxes,
        anchors=anchors,
        metrics=metrics,
        http_app=http_app,
        bolt=bolt,
    )
