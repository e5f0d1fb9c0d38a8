"""Shared fixtures: databases on both engines, the sandbox Slack, a running rollbot, a driver."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bot.audit.keys import AuditSigner, load_signing_key
from bot.config.settings import load_settings
from bot.domain.policy import ApprovalPolicy, Role, RoleSource
from rollbot.bootstrap.runtime import Runtime, build_runtime
from sandbox.executor import ScriptedExecutor, ScriptedVerifier
from sandbox.service import SandboxService
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack

PG_HOST = os.environ.get("ROLLBOT_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("ROLLBOT_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("ROLLBOT_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("ROLLBOT_TEST_PG_DB", "test")
SIGNING_SECRET = "test-signing-secret"
ALERT_TOKEN = "test-alert-token"
IN_CI = os.environ.get("CI", "").lower() == "true"


class FakeClock:
    """Time that tests move by hand; nothing sleeps."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=5
        )
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL at {PG_HOST}:{PG_PORT}/{PG_ADMIN_DB} unreachable: {exc!r}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: PostgreSQL is required)")
        pytest.skip(reason=f"{message}; run `make test`, which starts it")


@contextlib.asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    name = f"rollbot_t_{uuid.uuid4().hex[:12]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    admin = await _admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on each engine: a fresh SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'rollbot.db'}"
        return
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def signer() -> AuditSigner:
    return AuditSigner(Ed25519PrivateKey.generate(), every=5)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def slack() -> AsyncIterator[SandboxSlack]:
    fake = await sandbox_workspace()
    yield fake
    await fake.stop()


async def sandbox_workspace() -> SandboxSlack:
    """A started sandbox Slack with the tests' people and the DevOps user group."""
    fake = SandboxSlack()
    await fake.start()
    ws = fake.state
    ws.add_user("U0ALICE", "alice")
    ws.add_user("U0BOB", "bob")
    ws.add_user("U0CAROL", "carol")
    ws.add_user("U0DAVE", "dave")
    ws.add_user("U0ERIN", "erin")
    ws.add_user("U0FRANK", "frank")
    ws.add_usergroup("S0DEVOPS", ["U0FRANK"])
    return fake


@pytest.fixture
def channel(slack: SandboxSlack) -> str:
    people = ("U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ERIN", "U0FRANK")
    return slack.state.add_channel("inc-20261127-api", people)


@pytest.fixture
async def service() -> AsyncIterator[SandboxService]:
    """The service under rollback and its Prometheus (sandbox/service.py), for the tests whose
    policy points verification or recovery charts at it."""
    svc = SandboxService()
    await svc.start()
    yield svc
    await svc.stop()


@pytest.fixture
def executor() -> ScriptedExecutor:
    return ScriptedExecutor()


@pytest.fixture
def verifier() -> ScriptedVerifier:
    return ScriptedVerifier()


@pytest.fixture
def policy() -> ApprovalPolicy:
    """The runbook's matrix with the sandbox people in roles: alice on call, bob engineering lead,
    carol DBA, dave incident commander, erin CTO, frank DevOps lead (through a Slack user group)."""
    return runbook_policy()


def runbook_policy() -> ApprovalPolicy:
    """The policy fixture's value, for tests that build their world themselves."""
    return ApprovalPolicy(
        roles={
            Role.VP_ENGINEERING: RoleSource(users=("U0ERIN",)),
            Role.ON_CALL: RoleSource(users=("U0ALICE",)),
            Role.ENGINEERING_LEAD: RoleSource(users=("U0BOB",)),
            Role.DBA: RoleSource(users=("U0CAROL",)),
            Role.INCIDENT_COMMANDER: RoleSource(users=("U0DAVE",)),
            Role.CTO: RoleSource(users=("U0ERIN",)),
            Role.DEVOPS_LEAD: RoleSource(usergroup="S0DEVOPS"),
        }
    )


@pytest.fixture
def executors(executor: ScriptedExecutor) -> Any:
    """What rolls each target kind back; a test module overrides it to put a real adapter (on
    a sandbox service) in place of the scripted one. A callable receives the config versions."""
    return dict.fromkeys(("deployment", "configmap", "codedeploy", "flag"), executor)


@pytest.fixture
def runtime_settings() -> dict[str, Any]:
    """Settings a test module changes for its rollbot (none by default)."""
    return {}


@pytest.fixture
async def runtime(
    runtime_settings: dict[str, Any],
    database_url: str,
    slack: SandboxSlack,
    clock: FakeClock,
    executors: Any,
    verifier: ScriptedVerifier,
    policy: ApprovalPolicy,
    tmp_path: Path,
) -> AsyncIterator[Runtime]:
    # as an operator does for a shared database (`rollbot audit keygen`): the key exists first
    load_signing_key(key_b64=None, path=tmp_path / "audit.key", create=True)
    settings = load_settings(
        database_url=database_url,
        slack_bot_token=slack.state.token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        audit_key_file=tmp_path / "audit.key",
        evidence_dir=tmp_path / "evidence",
        alert_token=ALERT_TOKEN,
        alert_basic_auth="alertmanager:" + ALERT_TOKEN,
        audit_checkpoint_every=5,
        # a takeover acts at once, and the fake clock does not pace messages: what these tests
        # order is the steps, not the wait (tests/integration/test_delivery.py paces)
        **{"takeover_grace_seconds": 0, "slack_channel_burst": 1000, **runtime_settings},
    )
    rt = await build_runtime(
        settings, clock=clock, policy=policy, executors=executors, verifier=verifier
    )
    yield rt
    await rt.close()


@pytest.fixture
async def driver(runtime: Runtime, slack: SandboxSlack) -> AsyncIterator[SlackDriver]:
    url = await runtime.serve_http()
    async with SlackDriver(url, SIGNING_SECRET, slack.state) as drv:
        yield drv
