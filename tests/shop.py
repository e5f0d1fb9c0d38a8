"""The shop application for database rollback tests: its real Alembic project (the folder
standing in for its 2.0.0 image), a fresh PostgreSQL database migrated to the newest schema
with orders in it, and the sandbox cluster that runs shop and its downgrade Jobs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bot.domain.database_policy import DatabasePolicy, SecretKey
from bot.usecases.migrating_rollback import DeploymentWithItsDatabase
from integrations.database.executor import DatabaseExecutor
from integrations.database.schema_records import EvidenceSchemaRecords
from integrations.evidence.store import LocalEvidenceStore
from integrations.kubernetes.deployment import KubernetesExecutor
from integrations.kubernetes.jobs import KubernetesJobs
from integrations.kubernetes.rollout import SCHEMA_MIGRATION
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube
from sandbox.shop import HEAD, NEW_IMAGE, OLD_IMAGE, SHOP_IMAGE_FILES, migrated_shop
from tests.conftest import fresh_postgres_database

POLICY = DatabasePolicy(
    dsn_env="SHOP_DSN",
    dsn_secret=SecretKey(name="shop-db", key="url"),
    namespace="prod",
    deployments=("shop",),
)


@dataclass
class ShopWorld:
    url: str
    kube: SandboxKube
    kubeconfig: Path
    store: LocalEvidenceStore
    executor: DatabaseExecutor
    # shop's Deployment rolled back by the real executor, with its schema first
    deployment: DeploymentWithItsDatabase


@contextlib.asynccontextmanager
async def shop_world(folder: Path, policy: DatabasePolicy = POLICY) -> AsyncIterator[ShopWorld]:
    async with fresh_postgres_database() as url:
        await migrated_shop(url)
        kube = SandboxKube(rollout_seconds=0.2)
        await kube.start()
        try:
            # each release's pod template says which schema it needs
            schemas = ({SCHEMA_MIGRATION: "0001_orders"}, {SCHEMA_MIGRATION: HEAD})
            await release_app(kube, "shop", (OLD_IMAGE, NEW_IMAGE), "prod", schemas)
            kube.images[NEW_IMAGE] = SHOP_IMAGE_FILES
            kube.put_secret("prod", "shop-db", {"url": url})
            kubeconfig = kube.write_kubeconfig(folder / "kc")
            jobs = KubernetesJobs(KubernetesExecutor(kubeconfig=kubeconfig), poll_seconds=0.05)
            store = LocalEvidenceStore(folder / "evidence")
            executor = DatabaseExecutor({"shop": policy}, jobs, store, env={"SHOP_DSN": url})
            kubernetes = KubernetesExecutor(kubeconfig=kubeconfig, rollout_timeout=30)
            records = EvidenceSchemaRecords(store)
            owners = {("prod", "shop"): "shop"}
            deployment = DeploymentWithItsDatabase(kubernetes, executor, owners, records)
            yield ShopWorld(url, kube, kubeconfig, store, executor, deployment)
        finally:
            await kube.stop()
