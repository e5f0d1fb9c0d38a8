"""`make demo SCENARIO=database`: shop 2.0.0's migrations broke checkout, and the schema is
rolled back to the first migration: a backup first, the downgrade as a Job on the sandbox
cluster with the newer image, the DBA and the engineering lead approving, and the evidence a DBA
signs. The shop's database is a real PostgreSQL database (127.0.0.1:5432 unless
ROLLBOT_DEMO_SHOP_URL names another), dumped with the real pg_dump."""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bot.domain.database_policy import DatabasePolicy, SecretKey
from bot.domain.policy import ApprovalPolicy, Role, RoleSource, ServicePolicy
from integrations.database.executor import DatabaseExecutor
from integrations.evidence.store import LocalEvidenceStore
from integrations.kubernetes.deployment import KubernetesExecutor
from integrations.kubernetes.jobs import KubernetesJobs
from rollbot.demo.world import SIGNING_SECRET, DemoWorld, Scene, inspect_commands, say
from sandbox.executor import ScriptedExecutor
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube
from sandbox.shop import NEW_IMAGE, OLD_IMAGE, SHOP_IMAGE_FILES, migrated_shop, sql
from sandbox.slack.driver import SlackDriver

SERVER = os.environ.get("ROLLBOT_DEMO_SHOP_SERVER", "postgresql://postgres@127.0.0.1:5432")
DEMO_SHOP_DB = "rollbot_demo_shop"
SHOP = DatabasePolicy(
    dsn_env="SHOP_DSN",
    dsn_secret=SecretKey(name="shop-db", key="url"),
    namespace="prod",
    deployments=("shop",),
    restore_minutes=12,  # the last restore drill of shop's backup took 12 minutes
)


async def _fresh_shop_database() -> str:
    """An empty shop database on the demo's PostgreSQL server, made anew each run."""
    try:
        admin = await asyncpg.connect(f"{SERVER}/postgres", timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(
            f"rollbot: the database scenario needs PostgreSQL at {SERVER} ({exc}); start it "
            "with `make postgres`, or name another server in ROLLBOT_DEMO_SHOP_SERVER"
        ) from None
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DEMO_SHOP_DB}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DEMO_SHOP_DB}"')
    finally:
        await admin.close()
    return f"{SERVER.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{DEMO_SHOP_DB}"


def _manifest(evidence: Path) -> dict[str, Any]:
    [path] = list(evidence.glob("*/evidence-*.tar.gz"))
    with tarfile.open(path) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/manifest.json"))
        raw = tar.extractfile(member)
        assert raw is not None
        found: dict[str, Any] = json.loads(raw.read())
    return found


async def _shop_line(url: str) -> str:
    at = await sql(url, "SELECT version_num FROM alembic_version")
    columns = await sql(
        url,
        "SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) FROM "
        "information_schema.columns WHERE table_name = 'orders'",
    )
    return f"database shop: migration {at}; orders({columns})"


async def _cluster(url: str) -> SandboxKube:
    kube = SandboxKube(rollout_seconds=1.0)
    await kube.start()
    await release_app(kube, "shop", (OLD_IMAGE, NEW_IMAGE))
    kube.images[NEW_IMAGE] = SHOP_IMAGE_FILES
    kube.put_secret("prod", "shop-db", {"url": url})
    return kube


async def play_database(world: DemoWorld, policy: ApprovalPolicy) -> None:
    url = await _fresh_shop_database()
    await migrated_shop(url)
    kube = await _cluster(url)
    kubeconfig = kube.write_kubeconfig(Path(tempfile.mkdtemp(prefix="rollbot-demo-")) / "kc")
    store = LocalEvidenceStore(world.settings.evidence_dir)
    jobs = KubernetesJobs(KubernetesExecutor(kubeconfig=kubeconfig), poll_seconds=0.2)
    database = DatabaseExecutor({"shop": SHOP}, jobs, store, env={"SHOP_DSN": url})
    scripted = ScriptedExecutor()
    executors = dict.fromkeys(("deployment", "configmap", "codedeploy", "flag"), scripted)
    executors |= {"database": database}  # type: ignore[dict-item]
    roles = {**policy.roles, Role.DBA: RoleSource(users=("U0CAROL",))}
    services = {**policy.services, "shop": policy.services.get("api", ServicePolicy())}
    policy = policy.model_copy(
        update={"roles": roles, "services": services, "databases": {"shop": SHOP}}
    )
    runtime = await world.runtime(policy, executors)
    ws = world.ws
    try:
        events = await runtime.serve_http()
        say("rollbot demo (database): shop 2.0.0 shipped three migrations; checkout fails since.")
        say("alice is on call, carol the DBA, bob the engineering lead.")
        say(f"Before: {await _shop_line(url)}")
        say()
        async with SlackDriver(events, SIGNING_SECRET, ws) as driver:
            scene = Scene(runtime, driver, ws, verbose=world.verbose)
            say("— in #general —")
            await scene.types(
                "U0ALICE",
                world.general,
                "database/shop --to-migration 0001_orders --severity P2 "
                '--reason "checkout 500s since the 2.0.0 migrations"',
            )
            incident = next(c for c in ws.channels.values() if c.name.endswith("-shop"))
            incident.members.update({"U0BOB", "U0CAROL"})
            say(f"— bob and carol join #{incident.name} —")
            scene.shows_card(incident.id, "before anyone approves")
            request = await runtime.queries.status(incident.id, None)
            say("  The plan on the card, in full:")
            for line in (request.preflight or "").splitlines():
                say(f"    {line}")
            await scene.clicks("U0ALICE", incident.id, "Roll back")
            await scene.clicks("U0CAROL", incident.id, "Approve")
            await scene.clicks("U0BOB", incident.id, "Approve")
            scene.tell(incident.id)
        say()
        say(f"After: {await _shop_line(url)}")
        say("The evidence manifest's database fields:")
        for line in json.dumps(
            _manifest(world.settings.evidence_dir)["database"], indent=2
        ).splitlines():
            say(f"  {line}")
        say()
        await inspect_commands(runtime, world, request.id)
    finally:
        await runtime.close()
        await kube.stop()
