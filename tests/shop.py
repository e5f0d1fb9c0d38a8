"""The shop application for database rollback tests: its real Alembic project (the folder
standing in for its 2.0.0 image), a fresh PostgreSQL database migrated to the newest schema
with orders in it, and the sandbox cluster that runs shop and its downgrade Jobs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from bot.domain.database_policy import DatabasePolicy, SecretKey
from integrations.database.executor import DatabaseExecutor
from integrations.database.postgres import Dsn
from integrations.evidence.store import LocalEvidenceStore
from integrations.kubernetes.deployment import KubernetesExecutor
from integrations.kubernetes.jobs import KubernetesJobs
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube
from tests.conftest import fresh_postgres_database

SHOP = Path(__file__).resolve().parents[1] / "sandbox" / "images" / "shop"
OLD_IMAGE = "registry.example/shop:1.0.0"
NEW_IMAGE = "registry.example/shop:2.0.0"
HEAD = "0003_drop_note"
POLICY = DatabasePolicy(
    dsn_env="SHOP_DSN",
    dsn_secret=SecretKey(name="shop-db", key="url"),
    namespace="prod",
    deployments=("shop",),
)


def alembic(url: str, *args: str) -> str:
    """The shop's own `alembic`, as its deploy pipeline runs it."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "DATABASE_URL": url, "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    done = subprocess.run(
        ["alembic", *args], cwd=SHOP, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


async def sql(url: str, statement: str) -> object:
    d = Dsn.parse(url)
    conn = await asyncpg.connect(host=d.host, port=d.port, user=d.user, database=d.database)
    try:
        return await conn.fetchval(statement)
    finally:
        await conn.close()


async def migrated_shop(url: str) -> None:
    """Orders placed at the first schema (three, two with notes), then the newer migrations."""
    await asyncio.to_thread(alembic, url, "upgrade", "0001_orders")
    await sql(
        url,
        "INSERT INTO orders (item, note) VALUES ('mug', 'gift'), ('tea', NULL), ('pot', 'fragile')",
    )
    await asyncio.to_thread(alembic, url, "upgrade", "head")


@dataclass
class ShopWorld:
    url: str
    kube: SandboxKube
    kubeconfig: Path
    store: LocalEvidenceStore
    executor: DatabaseExecutor


@contextlib.asynccontextmanager
async def shop_world(folder: Path, policy: DatabasePolicy = POLICY) -> AsyncIterator[ShopWorld]:
    async with fresh_postgres_database() as url:
        await migrated_shop(url)
        kube = SandboxKube(rollout_seconds=0.2)
        await kube.start()
        try:
            await release_app(kube, "shop", (OLD_IMAGE, NEW_IMAGE))
            kube.images[NEW_IMAGE] = SHOP
            kube.put_secret("prod", "shop-db", {"url": url})
            kubeconfig = kube.write_kubeconfig(folder / "kc")
            jobs = KubernetesJobs(KubernetesExecutor(kubeconfig=kubeconfig), poll_seconds=0.05)
            store = LocalEvidenceStore(folder / "evidence")
            executor = DatabaseExecutor({"shop": policy}, jobs, store, env={"SHOP_DSN": url})
            yield ShopWorld(url, kube, kubeconfig, store, executor)
        finally:
            await kube.stop()
