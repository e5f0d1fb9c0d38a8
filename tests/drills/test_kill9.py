"""Drill 2: `kill -9` of `rollbot serve` while a rollout is in progress. After a restart the
request is reconciled (the rollout followed to its end from the cluster), the outcome posted,
no Slack notice lost, the audit chain whole, and the cluster rolled back exactly once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.audit.keys import load_signing_key
from bot.store.engine import create_engine
from bot.store.tables import AuditEntryRow, OutboxRow
from bot.usecases.audit_export import verify_database
from handlers.slack.ids import ActionId
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube
from sandbox.processes import rollbot_serve
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.drills.conftest import SECRET, serve_env
from tests.e2e.workflow import card, thread

pytestmark = pytest.mark.drill


def _revision(kube: SandboxKube) -> int:
    live = kube.store.get("deployments", "prod", "api")
    assert live is not None
    return int(live["metadata"]["annotations"]["deployment.kubernetes.io/revision"])


async def _wait(predicate: object, what: str, seconds: float = 60) -> None:
    for _ in range(int(seconds * 20)):
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_kill_9_mid_rollout_is_reconciled_after_restart(
    workspace: SandboxSlack, pg_url: str, policy_file: Path, tmp_path: Path
) -> None:
    kube = SandboxKube(rollout_seconds=4.0)
    await kube.start()
    try:
        await release_app(kube, "api", ("api:1.2.2", "api:1.2.3", "api:1.3.0"))
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
        ws = workspace.state
        channel = ws.add_channel("inc-20261127-api", ("U0ALICE", "U0BOB"))
        env = serve_env(
            workspace,
            pg_url,
            policy_file,
            tmp_path,
            ROLLBOT_EXECUTOR="kubernetes",
            ROLLBOT_KUBECONFIG=str(kubeconfig),
            ROLLBOT_EXECUTION_LEASE_SECONDS="2",
            ROLLBOT_TICK_SECONDS="0.5",
        )
        before = _revision(kube)
        async with rollbot_serve(env) as first, SlackDriver(first.url, SECRET, ws) as driver:
            text = 'deployment/api -n prod --to-revision 1 --severity P1 --reason "5xx"'
            await driver.command("U0ALICE", channel, text)
            await _wait(
                lambda: any(m["text"].startswith("Rollback RB-") for m in ws.history(channel)),
                "the card",
            )
            await driver.click(
                "U0ALICE", channel, card(workspace, channel), ActionId.CHOOSE_ROLLBACK
            )
            await _wait(
                lambda: "Approve" in str(card(workspace, channel)["blocks"]), "the approval card"
            )
            await driver.click("U0BOB", channel, card(workspace, channel), ActionId.APPROVE)
            await _wait(lambda: _revision(kube) == before + 1, "the rollback patch")
            first.process.send_signal(signal.SIGKILL)  # mid-rollout: the watch dies with it
            await first.process.wait()
        assert "live now" not in " ".join(thread(workspace, channel))

        async with rollbot_serve(env):
            await _wait(
                lambda: any("live now: revision" in line for line in thread(workspace, channel)),
                "the resumed rollout's outcome",
            )
            await _wait(
                lambda: any("Evidence pack stored" in line for line in thread(workspace, channel)),
                "the evidence pack",
            )
            await asyncio.sleep(1)  # let the last notices go out
        lines = thread(workspace, channel)
        assert any("rollbot restarted while this rollback was executing" in line for line in lines)
        assert _revision(kube) == before + 1  # rolled back exactly once
        engine = create_engine(pg_url)
        try:
            async with engine.connect() as conn:
                actions = list(
                    (
                        await conn.execute(select(AuditEntryRow.action).order_by(AuditEntryRow.seq))
                    ).scalars()  # type: ignore[arg-type]
                )
                undelivered = (
                    await conn.execute(
                        select(func.count())
                        .select_from(OutboxRow)
                        .where(OutboxRow.delivered_at.is_(None))  # type: ignore[union-attr]
                    )
                ).scalar_one()
            key = load_signing_key(key_b64=None, path=tmp_path / "audit.key", create=False)
            assert (await verify_database(engine, key.public_key())).ok
        finally:
            await engine.dispose()
        assert actions.count("execution.started") == 1
        assert "execution.resumed" in actions
        assert actions.count("execution.succeeded") == 1
        assert undelivered == 0  # no Slack notice lost
    finally:
        await kube.stop()
