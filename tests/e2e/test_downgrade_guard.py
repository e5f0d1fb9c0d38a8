"""`rollbot db downgrade` never destroys the audit log by accident: an explicit revision, a
refusal below the migration that holds the audit tables unless --drop-audit-log, and then the
count of what would be lost and a question."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from bot.store import migrate
from rollbot.bootstrap.runtime import Runtime
from rollbot.cli import app
from sandbox.slack.driver import SlackDriver
from tests.e2e.workflow import command


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_what_would_be_lost_is_counted_and_asked(
    runtime: Runtime, driver: SlackDriver, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await command(runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --reason "down"')
    lost = await migrate.audit_loss(runtime.engine, "base")
    assert lost.migrations == ("0001",)
    assert lost.entries >= 2
    assert (await migrate.audit_loss(runtime.engine, "0001")).migrations == ()
    monkeypatch.setenv("ROLLBOT_DATABASE_URL", runtime.settings.database_url)
    runner = CliRunner()
    # the CLI runs its own event loop: in a thread beside this test's
    refused = await asyncio.to_thread(runner.invoke, app, ["db", "downgrade", "base"])
    assert refused.exit_code == 2
    assert f"destroys the audit log: {lost.entries} audit entries" in refused.output
    declined = await asyncio.to_thread(
        runner.invoke, app, ["db", "downgrade", "base", "--drop-audit-log"], input="n\n"
    )
    assert declined.exit_code == 2
    assert f"This destroys {lost.entries} audit entries and {lost.checkpoints} signed" in (
        declined.output
    )
    assert "nothing was changed" in declined.output
    status = await migrate.schema_status(runtime.engine)
    assert status.current == status.head  # refused and declined: nothing moved
    assert (await migrate.audit_loss(runtime.engine, "base")).entries == lost.entries
