"""Use cases called directly: the SQLite unit of work, the sandbox Slack and the scripted
executor, no HTTP and no Bolt. What a test asserts is what the use case stored and handed on."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bot.audit.keys import AuditSigner
from bot.domain.notices import Notice
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy
from bot.domain.request import RollbackRequest
from bot.domain.targets import rollback_type_for, target_from
from bot.duework.decision_timeout import DecisionTimeouts
from bot.duework.reminders import Reminders
from bot.store import migrate
from bot.store.effects import EXECUTION_LEASE
from bot.store.engine import create_engine
from bot.store.uow import Committed, UnitOfWorkFactory
from bot.usecases.aftercare import Aftercare
from bot.usecases.approvals import Approvals
from bot.usecases.commands import OpenRollback, Origin
from bot.usecases.decisions import Decisions
from bot.usecases.evidence import EvidenceRecorder
from bot.usecases.execution import ExecutionRunner
from bot.usecases.leasing import LeaseRules
from bot.usecases.opening import OpenResult, RollbackService
from bot.usecases.queries import RequestQueries
from bot.usecases.transition import Transitions
from integrations.evidence.store import LocalEvidenceStore
from integrations.slack.channels import SlackChannelDirectory
from integrations.slack.delivery import client_for
from integrations.slack.roles import SlackRoleDirectory
from sandbox.executor import ScriptedExecutor, ScriptedVerifier
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock

ALICE = Person(id="U0ALICE", name="alice")
BOB = Person(id="U0BOB", name="bob")
DAVE = Person(id="U0DAVE", name="dave")


@dataclass
class World:
    uow: UnitOfWorkFactory
    clock: FakeClock
    executor: ScriptedExecutor
    opening: RollbackService
    queries: RequestQueries
    transitions: Transitions
    decisions: Decisions
    approvals: Approvals
    aftercare: Aftercare
    evidence: EvidenceRecorder
    executions: ExecutionRunner
    reminders: Reminders
    timeouts: DecisionTimeouts
    committed: list[Committed] = field(default_factory=list)

    async def open(
        self,
        spec: str = "deployment/api",
        *,
        channel: str,
        channel_name: str = "inc-20261127-api",
        by: Person = ALICE,
        to_revision: str | None = None,
        severity: str | None = None,
        key: str = "k1",
        namespace: str | None = "prod",
    ) -> OpenResult:
        from bot.domain.severity import parse_severity

        target = target_from(spec, namespace)
        command = OpenRollback(
            target=target,
            rollback_type=rollback_type_for(target, to_revision),
            to_revision=to_revision,
            severity=parse_severity(severity) if severity else None,
            reason="5xx after the release",
            ticket=None,
        )
        origin = Origin(channel_id=channel, channel_name=channel_name)
        return await self.opening.open_request(
            command, actor=by, origin=origin, idempotency_key=key
        )

    async def pending(self) -> list[Notice]:
        async with self.uow() as uow:
            return await uow.outbox.pending(1000)

    async def reload(self, request: RollbackRequest) -> RollbackRequest:
        return await self.transitions.load(request.id)


@pytest.fixture
def lease() -> timedelta:
    """How long a rollback's process may go silent before another may take it over."""
    return EXECUTION_LEASE


@pytest.fixture
def lease_rules() -> LeaseRules:
    """When renewals stop; a takeover acts at once (the tests order steps, not waits)."""
    return LeaseRules(grace=timedelta(0))


@contextlib.asynccontextmanager
async def world_on(
    folder: Path,
    slack: SandboxSlack,
    clock: FakeClock,
    executor: ScriptedExecutor,
    verifier: ScriptedVerifier,
    policy: ApprovalPolicy,
    lease: timedelta = EXECUTION_LEASE,
    lease_rules: LeaseRules | None = None,
) -> AsyncIterator[World]:
    """The use cases on a fresh SQLite database in `folder`."""
    tmp_path = folder
    lease_rules = lease_rules or LeaseRules(grace=timedelta(0))
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'rollbot.db'}")
    await migrate.ensure_schema(engine)
    uow = UnitOfWorkFactory(engine, AuditSigner(Ed25519PrivateKey.generate(), every=5))
    client = client_for(slack.state.token, slack.api_url)
    roles = SlackRoleDirectory(policy, client, clock)
    executors = dict.fromkeys(("deployment", "configmap", "codedeploy", "flag"), executor)
    transitions = Transitions(uow, clock, lease=lease, policy=policy)
    evidence = EvidenceRecorder(uow, clock, LocalEvidenceStore(tmp_path / "evidence"), executors)
    executions = ExecutionRunner(
        transitions=transitions,
        uow=uow,
        clock=clock,
        executors=executors,
        verifier=verifier,
        evidence=evidence,
        rules=lease_rules,
    )
    built = World(
        uow=uow,
        clock=clock,
        executor=executor,
        opening=RollbackService(
            uow=uow,
            clock=clock,
            policy=policy,
            roles=roles,
            channels=SlackChannelDirectory(client),
            executors=executors,
        ),
        queries=RequestQueries(uow),
        transitions=transitions,
        decisions=Decisions(transitions, roles),
        approvals=Approvals(transitions, roles, executors),
        aftercare=Aftercare(transitions, roles),
        evidence=evidence,
        executions=executions,
        reminders=Reminders(uow, clock, policy),
        timeouts=DecisionTimeouts(uow, clock, transitions),
    )
    uow.on_commit(built.committed.append)
    uow.on_commit(executions.on_commit)
    yield built
    await executions.drain()
    await engine.dispose()


@pytest.fixture
async def world(
    tmp_path: Path,
    slack: SandboxSlack,
    clock: FakeClock,
    executor: ScriptedExecutor,
    verifier: ScriptedVerifier,
    policy: ApprovalPolicy,
    lease: timedelta,
    lease_rules: LeaseRules,
) -> AsyncIterator[World]:
    async with world_on(
        tmp_path, slack, clock, executor, verifier, policy, lease, lease_rules
    ) as w:
        yield w
