"""A deployment rollback whose older release expects an older schema, as one plan: the
database steps first (backup, snapshot, downgrade Job, schema check), then the deployment undo,
on the real PostgreSQL and the sandbox cluster. A failed downgrade leaves the deployment
untouched; a process lost between the downgrade and the undo is followed by another that
finishes the undo and never downgrades twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.domain.policy import ApprovalPolicy, RollbackType
from bot.domain.request import RequestState
from bot.domain.targets import target_from
from bot.usecases.audit_export import verify_database
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime, build_runtime
from sandbox.executor import ScriptedExecutor, ScriptedVerifier
from sandbox.shop import NEW_IMAGE, OLD_IMAGE, sql
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.cluster import image_of
from tests.e2e.workflow import card, click, command, thread
from tests.helpers import audit_actions
from tests.shop import ShopWorld

pytestmark = pytest.mark.postgres
SHOP_APP = target_from("deployment/shop", "prod")
ASK = 'deployment/shop -n prod --severity P2 --reason "checkout fails since shop 2.0.0"'


def _executors(executor: ScriptedExecutor, shop: ShopWorld) -> dict[str, Any]:
    scripted = dict.fromkeys(("configmap", "codedeploy", "flag"), executor)
    return scripted | {"deployment": shop.deployment, "database": shop.executor}


@pytest.fixture
def executors(executor: ScriptedExecutor, shop: ShopWorld) -> dict[str, Any]:
    return _executors(executor, shop)


async def _migration(shop: ShopWorld) -> object:
    return await sql(shop.url, "SELECT version_num FROM alembic_version")


async def _approved(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    await click(runtime, driver, slack, channel, "U0CAROL", ActionId.APPROVE)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)


async def test_one_plan_the_schema_first_then_the_deployment(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, shop: ShopWorld
) -> None:
    await command(runtime, driver, channel, "U0ALICE", ASK)
    [request] = await runtime.queries.history(SHOP_APP)
    assert request.rollback_type is RollbackType.DATABASE  # the database row's approvals
    assert request.database_plan is not None
    assert request.database_plan.to_migration == "0001_orders"  # from revision 1's template
    shown = str(card(slack, channel)["blocks"])
    assert "Database `shop`: migration 0003_drop_note → 0001_orders" in shown
    assert (
        "5. then roll `deployment/shop -n prod` back: revision 2 → 1: image "
        f"{NEW_IMAGE} → {OLD_IMAGE} (only once the schema check passed)"
    ) in shown
    await _approved(runtime, driver, slack, channel)
    [request] = await runtime.queries.history(SHOP_APP)
    assert request.state is RequestState.COMPLETED
    assert await _migration(shop) == "0001_orders"
    assert image_of(shop.kube, "shop") == OLD_IMAGE
    lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
    schema_checked = lines.index("step 4 of 4 (schema check) done")
    undo = next(i for i, line in enumerate(lines) if line.startswith("the schema is rolled back"))
    assert schema_checked < undo  # the undo only after the schema check
    assert (await verify_database(runtime.engine, runtime.uow.signer.public_key)).ok


async def test_a_failed_downgrade_leaves_the_deployment_untouched(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, shop: ShopWorld
) -> None:
    await sql(shop.url, "CREATE VIEW discounted AS SELECT id, discount FROM orders")
    await command(runtime, driver, channel, "U0ALICE", ASK)
    await _approved(runtime, driver, slack, channel)
    [request] = await runtime.queries.history(SHOP_APP)
    assert request.state is RequestState.FAILED
    assert image_of(shop.kube, "shop") == NEW_IMAGE  # untouched
    live = shop.kube.store.get("deployments", "prod", "shop")
    assert live is not None
    assert live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    said = "\n".join(thread(slack, channel))
    assert "step 3 of 4 (downgrade) failed" in said
    assert (
        "Database `shop` is at migration 0002_discount; nothing after the downgrade ran; "
        "`deployment/shop -n prod` is untouched at revision 2"
    ) in said


async def test_a_process_lost_between_the_downgrade_and_the_undo_is_finished_by_another(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    shop: ShopWorld,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    await command(runtime, driver, channel, "U0ALICE", ASK)

    def crash_when_the_downgrade_completes(resource: str, kind: str, obj: dict[str, Any]) -> None:
        done = any(
            c.get("type") == "Complete" for c in (obj.get("status") or {}).get("conditions") or []
        )
        if resource == "jobs" and done and obj["metadata"]["name"].startswith("rollbot-downgrade-"):
            for task in runtime.executions.running():
                task.cancel()  # the process is gone: its tasks vanish mid-step

    shop.kube.store.listeners.append(crash_when_the_downgrade_completes)
    await _approved(runtime, driver, slack, channel)
    await asyncio.gather(*runtime.executions.running(), return_exceptions=True)
    shop.kube.store.listeners.remove(crash_when_the_downgrade_completes)
    [request] = await runtime.queries.history(SHOP_APP)
    assert request.state is RequestState.EXECUTING
    assert await _migration(shop) == "0001_orders"  # the downgrade ran
    assert image_of(shop.kube, "shop") == NEW_IMAGE  # the undo did not

    other = await build_runtime(
        runtime.settings,
        clock=clock,
        policy=policy,
        executors=_executors(executor, shop),
        verifier=ScriptedVerifier(),
    )
    try:
        clock.advance(minutes=2)
        assert await other.due.leases.reclaim() == 1
        await other.settle()
        [request] = await other.queries.history(SHOP_APP)
        assert request.state is RequestState.COMPLETED
        assert image_of(shop.kube, "shop") == OLD_IMAGE
        jobs = shop.kube.store.list("jobs", "prod", f"rollbot.dev/request={request.id}")
        assert len(jobs) == 1  # never a second downgrade
        lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
        assert any(
            line.startswith("following the downgrade Job rollbot-downgrade-") for line in lines
        )
        actions = await audit_actions(other)
        assert actions.count("execution.started") == 1
        assert "execution.resumed" in actions
    finally:
        await other.close()


async def test_the_migration_a_person_names_wins_over_the_annotation(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, shop: ShopWorld
) -> None:
    await command(runtime, driver, channel, "U0ALICE", ASK + " --to-migration 0002_discount")
    [request] = await runtime.queries.history(SHOP_APP)
    assert request.database_plan is not None
    assert request.database_plan.to_migration == "0002_discount"
    assert "Database `shop`: migration 0003_drop_note → 0002_discount" in str(
        card(slack, channel)["blocks"]
    )
    await _approved(runtime, driver, slack, channel)  # checked again with it: the plan stands
    assert await _migration(shop) == "0002_discount"
    assert image_of(shop.kube, "shop") == OLD_IMAGE


async def test_a_named_migration_for_a_deployment_no_database_lists_is_refused(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, shop: ShopWorld
) -> None:
    said = await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --to-migration 2 --reason "x"'
    )
    assert "--to-migration: no database in the policy lists `deployment/api -n prod`" in said
    assert await runtime.queries.history(target_from("deployment/api", "prod")) == []
