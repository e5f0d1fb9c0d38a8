"""Composition root: settings -> store -> integrations -> Bolt app -> HTTP server."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from sqlalchemy import text
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
from bot.store.engine import create_engine
from bot.store.uow import UnitOfWorkFactory
from bot.usecases.alert_intake import AlertIntake
from bot.usecases.approvals import RequestFlows, Transitions
from bot.usecases.evidence import EvidenceRecorder
from bot.usecases.execution import ExecutionRunner
from bot.usecases.opening import RollbackService
from bot.usecases.outbox import OutboxService
from bot.usecases.reports import ReportService
from handlers.http.alerts import alert_route
from handlers.http.web import build_web_app
from handlers.slack.app import build_bolt_app
from handlers.slack.deps import HandlerDeps
from integrations.evidence.store import LocalEvidenceStore, S3EvidenceStore
from integrations.health.checks import HttpVerifier
from integrations.reports.html import charts as report_charts
from integrations.slack.channels import SlackChannelDirectory
from integrations.slack.delivery import SlackDelivery, client_for
from integrations.slack.roles import SlackRoleDirectory


def _evidence_store(settings: Settings, policy: ApprovalPolicy, clock: Clock) -> EvidenceStore:
    if settings.evidence_s3_bucket:
        import boto3

        client = boto3.client("s3", endpoint_url=settings.evidence_s3_endpoint)
        return S3EvidenceStore(
            client, settings.evidence_s3_bucket, policy.evidence.retention, clock
        )
    return LocalEvidenceStore(settings.evidence_dir)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    uow: UnitOfWorkFactory
    service: RollbackService
    flows: RequestFlows
    executions: ExecutionRunner
    due: DueWork
    reminders: Reminders
    watch: RecoveryWatch
    reports: ReportService
    evidence: EvidenceRecorder
    outbox: OutboxService
    delivery: SlackDelivery
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
        """Let started rollbacks finish and deliver everything to Slack (tests, demo, shutdown)."""
        await self.executions.drain()
        await self.delivery.drain()

    async def close(self) -> None:
        self.due.stop()
        await self.executions.drain()
        await self.delivery.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.engine.dispose()


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
) -> Runtime:
    clock = clock or SystemClock()
    policy = policy or load_policy(settings.policy_file)
    engine = create_engine(settings.database_url)
    if check_schema:
        try:
            await migrate.ensure_schema(engine)
        except BaseException:
            await engine.dispose()
            raise
    signer = AuditSigner(
        load_signing_key(
            seed_b64=settings.audit_signing_key, path=settings.audit_key_file, create=True
        ),
        every=settings.audit_checkpoint_every,
    )
    uow = UnitOfWorkFactory(engine, signer)
    config_versions = StoredConfigVersions(uow, clock)
    if callable(executors):
        executors = executors(config_versions)
    executors = executors or {}
    metrics = Metrics()
    client = client_for(settings.slack_bot_token, settings.slack_api_url)
    outbox = OutboxService(uow, clock)
    delivery = SlackDelivery(outbox, client, metrics, clock)
    roles = SlackRoleDirectory(policy, client, clock)
    transitions = Transitions(
        uow,
        clock,
        after_commit=lambda r, e: executions.after_commit(r, e),
        lease=timedelta(seconds=settings.execution_lease_seconds),
    )
    evidence = EvidenceRecorder(
        uow,
        clock,
        evidence_store or _evidence_store(settings, policy, clock),
        executors,
        delivery.wake,
    )
    verifier = verifier or HttpVerifier(policy)
    executions = ExecutionRunner(
        transitions=transitions,
        evidence=evidence,
        uow=uow,
        clock=clock,
        executors=executors,
        verifier=verifier,
        outbox_written=delivery.wake,
    )
    service = RollbackService(
        uow=uow,
        clock=clock,
        policy=policy,
        roles=roles,
        channels=SlackChannelDirectory(client),
        executors=executors,
        after_commit=executions.after_commit,
    )
    flows = RequestFlows(transitions, roles, executors)
    reminders = Reminders(uow, clock, policy, delivery.wake)
    watch = RecoveryWatch(uow, clock, transitions, verifier, delivery.wake)
    reports = ReportService(uow, clock)
    deps = HandlerDeps(
        service=service,
        flows=flows,
        outbox=outbox,
        metrics=metrics,
        reports=reports,
        charts=report_charts,
        clock=clock,
    )
    bolt = build_bolt_app(signing_secret=settings.slack_signing_secret, client=client, deps=deps)

    async def health() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return Runtime(
        settings=settings,
        engine=engine,
        uow=uow,
        service=service,
        flows=flows,
        executions=executions,
        due=DueWork(
            uow,
            clock,
            transitions,
            evidence,
            reminders,
            watch,
            executions,
            tick_seconds=settings.tick_seconds,
        ),
        reminders=reminders,
        watch=watch,
        reports=reports,
        evidence=evidence,
        outbox=outbox,
        delivery=delivery,
        metrics=metrics,
        http_app=build_web_app(
            bolt,
            metrics,
            health,
            [
                alert_route(
                    AlertIntake(service, uow, clock, policy, delivery.wake),
                    token=settings.alert_token,
                    basic=settings.alert_basic_auth,
                )
            ],
            signing_secret=settings.slack_signing_secret,
        ),
        bolt=bolt,
    )
