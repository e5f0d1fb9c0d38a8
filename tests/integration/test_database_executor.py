"""The database executor against the real PostgreSQL, the real pg_dump, a real Alembic project
and the sandbox cluster running the downgrade as a Job: the plan the approvers read, the steps
in order, a failure that stops the plan where it failed, and a takeover that follows the Job."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from bot.domain.policy import RollbackType
from bot.domain.request import RollbackRequest, TargetRef
from bot.ports import (
    ExecutionError,
    NothingChangedError,
    PlatformReview,
    TargetUnavailableError,
    UnknownTargetError,
)
from integrations.database.executor import DatabaseExecutor, job_name
from integrations.database.postgres import Dsn
from integrations.database.run_record import DatabaseRun
from integrations.evidence.store import LocalEvidenceStore
from integrations.kubernetes.deployment import KubernetesExecutor
from integrations.kubernetes.jobs import KubernetesJobs
from sandbox.shop import HEAD, alembic, sql
from tests.conftest import fresh_postgres_database
from tests.shop import POLICY, ShopWorld, shop_world
from tests.unit.domain.factories import make_request

pytestmark = pytest.mark.postgres
SHOP_DB = TargetRef(kind="database", name="shop")


def _request(to: str = "0001_orders", baseline: str = HEAD) -> RollbackRequest:
    request = make_request(RollbackType.DATABASE, baseline=baseline)
    return request.model_copy(update={"target": SHOP_DB, "to_revision": to})


async def _no_fence() -> None:
    return None


class Said:
    def __init__(self) -> None:
        self.lines: list[str] = []

    async def __call__(self, line: str | PlatformReview) -> None:
        self.lines.append(str(line))


@pytest.fixture
async def shop(tmp_path: Path) -> ShopWorld:  # type: ignore[misc]
    async with shop_world(tmp_path) as world:
        yield world


async def test_the_plan_shows_the_sql_and_the_data_the_downgrade_would_drop(
    shop: ShopWorld,
) -> None:
    plan = await shop.executor.preflight(SHOP_DB, "0001_orders")
    assert (plan.live_revision, plan.to_revision) == (HEAD, "0001_orders")
    assert "Database `shop`: migration 0003_drop_note → 0001_orders" in plan.summary
    assert "running registry.example/shop:2.0.0" in plan.summary  # the newer image
    assert "column `orders.discount` (3 rows with a value)" in plan.summary
    assert "table `coupons` (2 rows)" in plan.summary
    assert "ALTER TABLE orders DROP COLUMN discount" in plan.summary
    assert "drops column `orders.discount` (3 rows with a value)" in plan.changes
    # planning changed nothing
    assert await shop.executor.live_revision(SHOP_DB) == HEAD


async def test_planning_refusals_name_the_fix(shop: ShopWorld) -> None:
    with pytest.raises(UnknownTargetError, match="already at migration 0003_drop_note"):
        await shop.executor.preflight(SHOP_DB, HEAD)
    with pytest.raises(UnknownTargetError, match=r"not in the history of registry\.example"):
        await shop.executor.preflight(SHOP_DB, "9999_nope")
    with pytest.raises(UnknownTargetError, match="declare it under `databases:`"):
        await shop.executor.preflight(TargetRef(kind="database", name="billing"), "base")


async def test_a_rollback_backs_up_snapshots_downgrades_and_checks_in_that_order(
    shop: ShopWorld,
) -> None:
    said = Said()
    result = await shop.executor.execute(_request(), said, _no_fence)
    assert await sql(shop.url, "SELECT version_num FROM alembic_version") == "0001_orders"
    assert said.lines == [
        f"step {n} of 4 ({s}) done"
        for n, s in enumerate(
            ("backup", "schema snapshot and row counts", "downgrade", "schema check"), 1
        )
    ]
    assert "rows lost (measured): coupons: 2, orders.discount: 3" in result.detail
    run = DatabaseRun.model_validate_json(
        (await shop.store.get(DatabaseRun.name_for("RB-TEST01"))) or b""
    )
    assert run.backup is not None
    dump = await shop.store.get("RB-TEST01/database/shop-0003_drop_note.dump")
    assert dump is not None
    assert dump.startswith(b"PGDMP")  # pg_dump's custom format
    assert run.rows_before == {"coupons": 2, "orders": 3}
    assert run.rows_after == {"orders": 3}
    files = run.files()
    assert "discount" in files["schema-before.sql"]
    assert "discount" not in files["schema-after.sql"]
    assert "-    discount integer" in files["schema.diff"]
    summary = json.loads(files["database-rollback.json"])
    assert summary["sql_preview_matches_run"] is True
    assert summary["data_loss"]["rows_lost"] == {"coupons": 2, "orders.discount": 3}
    assert [s["step"] for s in summary["steps"]] == [
        "backup",
        "schema snapshot and row counts",
        "downgrade",
        "schema check",
    ]
    assert run.backup.sha256 == hashlib.sha256(dump).hexdigest()
    assert run.backup.bytes == len(dump)
    # the backup restores (real pg_restore), with the data the downgrade dropped in it
    async with fresh_postgres_database() as elsewhere:
        d = Dsn.parse(elsewhere)
        restore = ["pg_restore", "-h", d.host, "-p", str(d.port), "-U", d.user, "-d", d.database]
        await asyncio.to_thread(subprocess.run, restore, input=dump, check=True)
        assert await sql(elsewhere, "SELECT sum(discount) FROM orders") == 15
        assert await sql(elsewhere, "SELECT count(*) FROM coupons") == 2


async def test_a_downgrade_that_fails_partway_stops_the_plan_and_says_where(
    shop: ShopWorld,
) -> None:
    # a view someone made on the column: PostgreSQL refuses to drop what it depends on
    await sql(shop.url, "CREATE VIEW discounted AS SELECT id, discount FROM orders")
    with pytest.raises(ExecutionError) as failed:
        await shop.executor.execute(_request(), Said(), _no_fence)
    said = str(failed.value)
    assert said.startswith("step 3 of 4 (downgrade) failed: Job rollbot-downgrade-rb-test01")
    assert "BackoffLimitExceeded" in said
    assert "depend" in said  # PostgreSQL's own reason
    # one migration per transaction: the first one finished, the second rolled back
    assert "Database `shop` is at migration 0002_discount; nothing after the downgrade ran" in said
    assert await sql(shop.url, "SELECT count(*) FROM coupons") == 2  # untouched


async def test_a_backup_that_fails_runs_nothing_else(shop: ShopWorld) -> None:
    await shop.store.put("RB-TEST01/database", b"a file where the backup folder must go")
    with pytest.raises(ExecutionError, match=r"^step 1 of 4 \(backup\) failed"):
        await shop.executor.execute(_request(), Said(), _no_fence)
    assert not shop.kube.store.list("jobs", "prod", "rollbot.dev/request=RB-TEST01")
    assert await sql(shop.url, "SELECT version_num FROM alembic_version") == HEAD


async def test_a_takeover_follows_the_downgrade_job_and_never_starts_another(
    shop: ShopWorld,
) -> None:
    with pytest.raises(NothingChangedError, match="no downgrade Job was started"):
        await shop.executor.resume(_request(), Said())
    await shop.executor.execute(_request(), Said(), _no_fence)
    # a second process after the first one's crash: the Job is there, so it is followed
    await sql(shop.url, "UPDATE alembic_version SET version_num = '0001_orders'")
    said = Said()
    result = await shop.executor.resume(_request(), said)
    assert said.lines[0] == (
        f"following the downgrade Job {job_name('RB-TEST01', 'downgrade')} that was already started"
    )
    assert result.to_revision == "0001_orders"
    assert len(shop.kube.store.list("jobs", "prod", "rollbot.dev/request=RB-TEST01")) == 1


async def test_a_missing_dsn_is_refused_before_anything_runs(tmp_path: Path) -> None:
    async with shop_world(tmp_path) as world:
        jobs = KubernetesJobs(KubernetesExecutor(kubeconfig=world.kubeconfig))
        unset = DatabaseExecutor({"shop": POLICY}, jobs, world.store, env={})
        with pytest.raises(TargetUnavailableError, match="SHOP_DSN is not set"):
            await unset.preflight(SHOP_DB, "0001_orders")
        assert f"{HEAD} (head)" in alembic(world.url, "current")
        assert not world.kube.store.list("jobs", "prod")


async def test_a_named_backup_location_must_hold_a_backup_before_anything_runs(
    tmp_path: Path,
) -> None:
    rule = POLICY.model_copy(update={"backup_location": "backups/shop"})
    async with shop_world(tmp_path, rule) as world:
        with pytest.raises(TargetUnavailableError, match="no pre-deployment backup of `shop`"):
            await world.executor.preflight(SHOP_DB, "0001_orders")
        assert not world.kube.store.list("jobs", "prod")  # refused before the preview ran
        await world.store.put("backups/shop/2026-12-06.dump", b"PGDMP")
        plan = await world.executor.preflight(SHOP_DB, "0001_orders")
        assert plan.to_revision == "0001_orders"


class FullStore(LocalEvidenceStore):
    """A disk with almost no room left, as `df` would say."""

    async def free_bytes(self) -> int | None:
        return 1024


async def test_a_backup_the_store_has_no_room_for_is_refused(shop: ShopWorld) -> None:
    store = FullStore(shop.store.root)
    jobs = KubernetesJobs(KubernetesExecutor(kubeconfig=shop.kubeconfig), poll_seconds=0.05)
    tight = DatabaseExecutor({"shop": POLICY}, jobs, store, env={"SHOP_DSN": shop.url})
    with pytest.raises(ExecutionError) as refused:
        await tight.execute(_request(), Said(), _no_fence)
    assert "step 1 of 4 (backup) failed: the evidence store has 1024 bytes free" in str(
        refused.value
    )
    assert await sql(shop.url, "SELECT version_num FROM alembic_version") == HEAD


async def test_the_schema_a_release_expected_is_recorded_and_recalled_when_its_template_forgets(
    shop: ShopWorld,
) -> None:
    app = TargetRef(kind="deployment", name="shop", namespace="prod")
    first = await shop.deployment.preflight(app, None)
    assert first.database is not None
    assert first.database.to_migration == "0001_orders"
    assert len(await shop.store.names("schemas/prod/shop/")) == 2  # both releases seen
    # revision 1's ReplicaSet loses its annotation (its template was annotated later, by hand)
    [old] = [
        rs
        for rs in shop.kube.store.list("replicasets", "prod")
        if rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    ]
    del old["spec"]["template"]["metadata"]["annotations"]
    shop.kube.store.replace("replicasets", old)
    again = await shop.deployment.preflight(app, None)
    assert again.expects_migration is None  # the template no longer says
    assert again.database == first.database  # rollbot remembered what it said
