"""What the drills share: a fresh PostgreSQL database, a policy file, and `rollbot serve`
processes against the sandbox Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.audit.keys import load_signing_key
from sandbox.processes import clean_env
from sandbox.slack.server import SandboxSlack
from tests.conftest import fresh_postgres_database

SECRET = "drill-signing-secret"
POLICY = """\
version: 1
roles:
  on_call: {users: [U0ALICE]}
  engineering_lead: {users: [U0BOB, U0CAROL]}
  incident_commander: {users: [U0DAVE]}
"""


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
async def workspace() -> AsyncIterator[SandboxSlack]:
    fake = SandboxSlack()
    await fake.start()
    for user in ("U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"):
        fake.state.add_user(user, user[3:].lower())
    yield fake
    await fake.stop()


def serve_env(
    slack: SandboxSlack, database_url: str, policy: Path, tmp_path: Path, **extra: str
) -> dict[str, str]:
    key = tmp_path / "audit.key"
    load_signing_key(key_b64=None, path=key, create=True)  # made once, before any replica starts
    return clean_env(
        ROLLBOT_DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=slack.state.token,
        SLACK_SIGNING_SECRET=SECRET,
        ROLLBOT_SLACK_API_URL=slack.api_url,
        ROLLBOT_POLICY_FILE=str(policy),
        # every replica signs with the same key, as a deployment shares one secret
        ROLLBOT_AUDIT_KEY_FILE=str(tmp_path / "audit.key"),
        ROLLBOT_EVIDENCE_DIR=str(tmp_path / "evidence"),
        ROLLBOT_LOG_LEVEL="warning",
        **{"ROLLBOT_EXECUTOR": "none", **extra},
    )
