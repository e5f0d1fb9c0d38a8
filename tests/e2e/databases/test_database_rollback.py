"""A database migration rollback end to end through Slack, on the real PostgreSQL with the
shop's real Alembic project and real pg_dump, the downgrade run as a Job on the sandbox cluster:
the card shows the plan, the SQL and the data it drops before anyone approves; the database row
of the approval matrix (DBA and Engineering Lead; an emergency also the CTO) is what lets it
run; the evidence pack carries what a DBA signs."""

from __future__ import annotations

import json
import tarfile
from typing import Any

import pytest

from bot.domain.request import RequestState, TargetRef
from bot.usecases.audit_export import verify_database
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.shop import HEAD, sql
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import answered, card, click, command, ephemerals, thread
from tests.helpers import audit_actions
from tests.shop import ShopWorld

pytestmark = pytest.mark.postgres
SHOP_DB = TargetRef(kind="database", name="shop")
ASK = 'database/shop --to-migration 0001_orders --severity P2 --reason "checkout fails since the 2.0 migration"'


@pytest.fixture
def executors(executor: ScriptedExecutor, shop: ShopWorld) -> dict[str, Any]:
    scripted = dict.fromkeys(("deployment", "configmap", "codedeploy", "flag"), executor)
    return scripted | {"database": shop.executor}


async def _state(runtime: Runtime) -> RequestState:
    [request] = await runtime.queries.history(SHOP_DB)
    return request.state


async def _migration(shop: ShopWorld) -> object:
    return await sql(shop.url, "SELECT version_num FROM alembic_version")


def _pack(runtime: Runtime) -> dict[str, bytes]:
    [path] = list(runtime.settings.evidence_dir.glob("*/evidence-*.tar.gz"))
    with tarfile.open(path) as tar:
        return {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


async def test_the_dba_and_the_lead_approve_and_the_schema_rows_and_evidence_are_right(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, shop: ShopWorld
) -> None:
    await command(runtime, driver, channel, "U0ALICE", ASK)
    shown = str(card(slack, channel)["blocks"])
    # before any approval: every step, the SQL, and the data the downgrade drops
    assert "Database `shop`: migration 0003_drop_note → 0001_orders" in shown
    assert (
        "Expected data loss: table `coupons` (2 rows); column `orders.discount` (3 rows with a value)"
        in shown
    )
    assert "ALTER TABLE orders DROP COLUMN discount;" in shown
    assert "1. full backup (pg_dump, custom format) into the evidence store" in shown
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)

    # the DBA alone is not enough
    await click(runtime, driver, slack, channel, "U0CAROL", ActionId.APPROVE)
    assert await _state(runtime) is RequestState.AWAITING_APPROVAL
    assert await _migration(shop) == HEAD
    assert not shop.kube.store.list("jobs", "prod", "rollbot.dev/request")

    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    assert await _state(runtime) in (RequestState.COMPLETED, RequestState.RECOVERY_UNVERIFIED)
    assert await _migration(shop) == "0001_orders"
    assert await sql(shop.url, "SELECT count(*) FROM orders") == 3  # the orders stayed
    lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
    assert any("step 3 of 4 (downgrade) done" in line for line in lines)
    assert "rollbot rolled back to revision 0001_orders" in lines

    files = _pack(runtime)
    assert {
        "schema-before.sql",
        "schema-after.sql",
        "schema.diff",
        "row-counts.json",
        "downgrade-job.log",
        "downgrade-preview.sql",
        "database-rollback.json",
    } <= set(files)
    manifest = json.loads(files["manifest.json"])
    assert manifest["capture_gaps"] == []
    db = manifest["database"]
    assert db["migration_reverted"] == {"from": HEAD, "to": "0001_orders"}
    [request] = await runtime.queries.history(SHOP_DB)
    assert db["backup"]["folder"] == f"{request.id}/database"  # beside the pack
    assert db["backup"]["file"] == "shop-0003_drop_note.dump"
    assert len(db["backup"]["sha256"]) == 64
    assert db["data_loss"]["rows_lost"] == {"coupons": 2, "orders.discount": 3}
    assert db["dba_approval"][0]["by"] == "U0CAROL"
    assert sorted(db["approver"]) == ["U0BOB", "U0CAROL"]
    assert db["downtime_seconds"] is not None
    assert db["sql_preview_matches_run"] is True  # what ran is what the card showed
    counts = json.loads(files["row-counts.json"])
    assert counts == {"before": {"coupons": 2, "orders": 3}, "after": {"orders": 3}}
    assert b"DROP TABLE coupons" in files["downgrade-job.log"]
    assert (await verify_database(runtime.engine, runtime.uow.signer.public_key)).ok


async def test_the_requester_who_is_a_dba_cannot_approve_their_own_request(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, shop: ShopWorld
) -> None:
    await command(runtime, driver, channel, "U0CAROL", ASK)
    await click(runtime, driver, slack, channel, "U0CAROL", ActionId.CHOOSE_ROLLBACK)
    before = await audit_actions(runtime)
    await click(runtime, driver, slack, channel, "U0CAROL", ActionId.APPROVE)
    assert ephemerals(slack, "U0CAROL")[-1].endswith(
        "you requested this rollback, so you cannot approve it; it needs: dba + engineering lead"
    )
    assert await _state(runtime) is RequestState.AWAITING_APPROVAL
    assert await audit_actions(runtime) == before  # nothing recorded, nothing lost
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    assert await _state(runtime) is RequestState.AWAITING_APPROVAL  # still a DBA short
    assert await _migration(shop) == HEAD


async def test_a_downgrade_that_fails_halfway_stops_there_and_the_escalation_names_the_step(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, shop: ShopWorld
) -> None:
    await sql(shop.url, "CREATE VIEW discounted AS SELECT id, discount FROM orders")
    await command(runtime, driver, channel, "U0ALICE", ASK)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    await click(runtime, driver, slack, channel, "U0CAROL", ActionId.APPROVE)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    assert await _state(runtime) is RequestState.FAILED
    said = "\n".join(thread(slack, channel)) + str(card(slack, channel)["blocks"])
    assert "step 3 of 4 (downgrade) failed" in said
    assert "Database `shop` is at migration 0002_discount; nothing after the downgrade ran" in said
    assert await _migration(shop) == "0002_discount"


async def test_a_backup_that_fails_runs_nothing_else(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, shop: ShopWorld
) -> None:
    await command(runtime, driver, channel, "U0ALICE", ASK)
    [request] = await runtime.queries.history(SHOP_DB)
    # the folder the backup goes to is taken by a file: the store refuses the backup
    await shop.store.put(f"{request.id}/database", b"not a folder")
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    await click(runtime, driver, slack, channel, "U0CAROL", ActionId.APPROVE)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    assert await _state(runtime) is RequestState.FAILED
    said = "\n".join(thread(slack, channel))
    assert "step 1 of 4 (backup) failed" in said
    assert await _migration(shop) == HEAD
    assert not shop.kube.store.list("jobs", "prod", f"rollbot.dev/request={request.id}")


async def test_an_override_at_the_top_severity_still_needs_the_cto(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, shop: ShopWorld
) -> None:
    await command(runtime, driver, channel, "U0ALICE", ASK.replace("P2", "P1"))
    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.OVERRIDE)
    view_id = list(slack.state.views)[-1]
    reason = {"reason": {"value": {"type": "plain_text_input", "value": "orders failing"}}}
    await answered(runtime, driver, "U0DAVE", driver.submit_view("U0DAVE", view_id, reason))
    assert await _migration(shop) == HEAD  # the override alone does not run it
    assert "*Approvals* — needs cto" in str(card(slack, channel)["blocks"])
    await click(runtime, driver, slack, channel, "U0ERIN", ActionId.APPROVE)
    assert await _migration(shop) == "0001_orders"


async def test_the_restore_request_scales_down_restores_and_records_what_was_lost(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, shop: ShopWorld
) -> None:
    await command(runtime, driver, channel, "U0ALICE", ASK)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    await click(runtime, driver, slack, channel, "U0CAROL", ActionId.APPROVE)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    [downgrade] = await runtime.queries.history(SHOP_DB)
    await sql(shop.url, "INSERT INTO orders (item) VALUES ('late order')")  # after the backup

    ask = f'database/shop --restore-backup {downgrade.id} --severity P2 --reason "the downgrade lost coupons"'
    await command(runtime, driver, channel, "U0ALICE", ask)
    restore = next(r for r in await runtime.queries.history(SHOP_DB) if r.id != downgrade.id)
    shown = str(card(slack, channel)["blocks"])
    assert f"Restore database `shop` from the backup taken by {downgrade.id}" in shown
    assert "Written since the backup and lost by the restore: `orders` 1 row" in shown
    assert "1. scale the application down: `shop` (3 → 0)" in shown
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    await click(runtime, driver, slack, channel, "U0CAROL", ActionId.APPROVE)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    # the database row's approvals are not enough: the incident commander too
    assert await _migration(shop) == "0001_orders"
    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.APPROVE)

    [restore] = [r for r in await runtime.queries.history(SHOP_DB) if r.id == restore.id]
    assert restore.state in (RequestState.COMPLETED, RequestState.RECOVERY_UNVERIFIED)
    assert await _migration(shop) == HEAD
    assert await sql(shop.url, "SELECT count(*) FROM coupons") == 2  # back from the backup
    assert await sql(shop.url, "SELECT count(*) FROM orders") == 3  # the late order is gone
    live = shop.kube.store.get("deployments", "prod", "shop")
    assert live is not None
    assert live["spec"]["replicas"] == 3  # scaled back up
    lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
    assert lines.index("step 1 of 5 (scale the application down) done") < lines.index(
        "step 3 of 5 (restore) done"
    )
    run = json.loads((await shop.store.get(f"{restore.id}/database/run.json")) or b"{}")
    assert run["scaled"] == {"shop": 3}
    assert run["rows_before"]["orders"] - run["rows_after"]["orders"] == 1  # measured
