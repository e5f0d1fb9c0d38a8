"""Drills and the readiness gate, built on the same parts as the bot: the executors, the
verifier, the evidence store and the signed audit log."""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.policy import ApprovalPolicy
from bot.ports import Clock, EvidenceStore, Executor, RollbackPaths, Verifier
from bot.store.uow import UnitOfWorkFactory
from bot.usecases.drills import DrillRunner
from bot.usecases.rollback_readiness import ReadinessGate
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
