"""What the database rollback tests share: rollbot's own records on SQLite (the shop's database
is the real PostgreSQL), the shop's world, and the runbook's people with shop's database
declared."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.policy import ApprovalPolicy
from tests.conftest import runbook_policy
from tests.shop import POLICY, ShopWorld, shop_world


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'rollbot.db'}"


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[ShopWorld]:
    async with shop_world(tmp_path) as world:
        yield world


@pytest.fixture
def policy() -> ApprovalPolicy:
    return runbook_policy().model_copy(update={"databases": {"shop": POLICY}})
