"""Drills and the readiness gate, built on the same parts as the bot: the executors, the
verifier, the evidence store and the signed audit log."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from bot.config.settings import Settings
from bot.domain.policy import ApprovalPolicy
from bot.ports import Clock, EvidenceStore, Executor, RollbackPaths, Verifier
from bot.store.uow import UnitOfWorkFactory
from bot.usecases.alert_inbox import AlertInbox
from bot.usecases.drills import DrillRunner
from bot.usecases.rollback_readiness import ReadinessGate
from handlers.http.alerts import alert_route
from handlers.http.readiness import readiness_route
from integrations.kubernetes.deployment import KubernetesExecutor
from integrations.kubernetes.readiness import KubernetesRollbackPaths


def rollback_paths(executors: Mapping[str, Executor]) -> dict[str, RollbackPaths]:
    """The kinds whose rollback path rollbot can read beyond "does it exist"."""
    kube = executors.get("deployment")
    return (
        {"deployment": KubernetesRollbackPaths(kube)}
        if isinstance(kube, KubernetesExecutor)
        else {}
    )


def drill_runner(
    uow: UnitOfWorkFactory,
    clock: Clock,
    policy: ApprovalPolicy,
    executors: Mapping[str, Executor],
    checks: tuple[Verifier, EvidenceStore],
) -> DrillRunner:
    verifier, store = checks
    return DrillRunner(
        uow=uow, clock=clock, policy=policy, executors=executors, verifier=verifier, store=store
    )


def readiness_gate(
    uow: UnitOfWorkFactory,
    clock: Clock,
    policy: ApprovalPolicy,
    executors: Mapping[str, Executor],
) -> ReadinessGate:
    return ReadinessGate(
        uow=uow, clock=clock, policy=policy, executors=executors, paths=rollback_paths(executors)
    )


def http_routes(
    settings: Settings,
    alerts: AlertInbox,
    parts: tuple[UnitOfWorkFactory, Clock, ApprovalPolicy, Mapping[str, Executor]],
) -> list[web.RouteDef]:
    """What answers beside Slack: Alertmanager's webhook and the deploy readiness gate."""
    uow, clock, policy, executors = parts
    gate = readiness_gate(uow, clock, policy, executors)
    return [
        alert_route(alerts, token=settings.alert_token, basic=settings.alert_basic_auth),
        readiness_route(gate, token=settings.readiness_token),
    ]
