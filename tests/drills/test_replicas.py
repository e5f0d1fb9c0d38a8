"""Drill 1: three `rollbot serve` processes on one PostgreSQL, 50 simultaneous approve clicks
spread over them: exactly one execution, every click answered, the audit chain verifies."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from sqlalchemy import select

from bot.audit.keys import load_signing_key
from bot.store.engine import create_engine
from bot.store.tables import AuditEntryRow
from bot.usecases.audit_export import verify_database
from handlers.slack.ids import ActionId
from sandbox.processes import rollbot_serve
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.drills.conftest import SECRET, serve_env
from tests.e2e.workflow import card


async def _actions(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list(
                (
                    await conn.execute(select(AuditEntryRow.action).order_by(AuditEntryRow.seq))
                ).scalars()
            )  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def _settled(workspace: SandboxSlack, channel: str, pg_url: str) -> list[str]:
    for _ in range(300):
        actions = await _actions(pg_url)
        if "verification.passed" in actions and "evidence.packed" in actions:
            return actions
        await asyncio.sleep(0.1)
    raise AssertionError(f"the rollback did not finish: {actions}")


async def test_fifty_clicks_on_three_replicas_execute_once(
    workspace: SandboxSlack, pg_url: str, policy_file: Path, tmp_path: Path
) -> None:
    ws = workspace.state
    channel = ws.add_channel("inc-20261127-api", ("U0ALICE", "U0BOB", "U0CAROL"))
    env = serve_env(workspace, pg_url, policy_file, tmp_path, ROLLBOT_EXECUTOR="sandbox")
    async with contextlib.AsyncExitStack() as stack:
        replicas = [await stack.enter_async_context(rollbot_serve(env)) for _ in range(3)]
        drivers = [
            await stack.enter_async_context(SlackDriver(r.url, SECRET, ws)) for r in replicas
        ]
        text = 'deployment/api -n prod --to-revision 1 --severity P1 --reason "5xx"'
        assert (await drivers[0].command("U0ALICE", channel, text)).status == 200
        for _ in range(100):
            if any(m["text"].startswith("Rollback RB-") for m in ws.history(channel)):
                break
            await asyncio.sleep(0.05)
        reply = await drivers[1].click(
            "U0ALICE", channel, card(workspace, channel), ActionId.CHOOSE_ROLLBACK
        )
        assert reply.status == 200
        for _ in range(100):
            if "Approve" in str(card(workspace, channel)["blocks"]):
                break
            await asyncio.sleep(0.05)
        shown = card(workspace, channel)
        clicks = [
            drivers[i % 3].click(("U0BOB", "U0CAROL")[i % 2], channel, shown, ActionId.APPROVE)
            for i in range(50)
        ]
        answers = await asyncio.gather(*clicks)
        assert [a.status for a in answers] == [200] * 50  # every click answered

        actions = await _settled(workspace, channel, pg_url)
        assert actions.count("approval.given") == 1
        assert actions.count("execution.started") == 1
        assert actions.count("execution.succeeded") == 1
        key = load_signing_key(key_b64=None, path=tmp_path / "audit.key", create=False)
        engine = create_engine(pg_url)
        try:
            assert (await verify_database(engine, key.public_key())).ok
        finally:
            await engine.dispose()
        # the 49 that lost were told, privately, why nothing happened
        # (the losers' answers are sent by whichever worker took each click: wait for them)
        for _ in range(200):
            told = [e for e in ws.ephemerals if e["user"] in ("U0BOB", "U0CAROL")]
            if len(told) >= 49:
                break
            await asyncio.sleep(0.05)
        assert len(told) == 49
