"""Building the CodeDeploy, feature-flag and database executors from settings (for `rollbot serve`)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from bot.config.settings import Settings
from bot.domain.policy import ApprovalPolicy
from bot.ports import ConfigVersions
from integrations.codedeploy.executor import CodeDeployExecutor
from integrations.flags.http import JsonApi
from integrations.flags.launchdarkly import LaunchDarklyExecutor
from integrations.flags.unleash import UnleashExecutor


def codedeploy_client(
    settings: Settings,
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    attempts: int = 4,
) -> Any:
    """botocore's standard retry mode retries throttling and 5xx answers with backoff."""
    return boto3.client(
        "codedeploy",
        region_name=settings.aws_region,
        endpoint_url=settings.codedeploy_endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(
            retries={"max_attempts": attempts, "mode": "standard"},
            connect_timeout=5,
            read_timeout=settings.codedeploy_timeout_seconds,
        ),
    )


def codedeploy_executor(settings: Settings) -> CodeDeployExecutor:
    return CodeDeployExecutor(codedeploy_client(settings))


def flag_executor(
    settings: Settings, versions: ConfigVersions
) -> LaunchDarklyExecutor | UnleashExecutor | None:
    # Settings refuse a provider without its token and URL, so both are set here.
    if settings.flag_provider == "launchdarkly" and settings.launchdarkly_token:
        api = JsonApi(
            settings.launchdarkly_url,
            settings.launchdarkly_token,
            "LaunchDarkly",
            timeout=settings.flags_timeout_seconds,
        )
        return LaunchDarklyExecutor(api, settings.launchdarkly_project, versions)
    if settings.flag_provider == "unleash" and settings.unleash_url and settings.unleash_token:
        api = JsonApi(
            settings.unleash_url,
            settings.unleash_token,
            "Unleash",
            timeout=settings.flags_timeout_seconds,
        )
        return UnleashExecutor(api, settings.unleash_project)
    return None


def with_databases(settings: Settings, policy: ApprovalPolicy, kube: Any) -> dict[str, Any]:
    """The databases the policy declares, rolled back with Jobs on the services' cluster (the
    backups and the schema records go to the evidence store), and the Deployments whose
    releases carry their migrations rolled back with their schema. Empty when none."""
    if not policy.databases:
        return {}
    from bot.ports import SystemClock
    from bot.usecases.migrating_rollback import DeploymentWithItsDatabase
    from integrations.database.executor import DatabaseExecutor
    from integrations.database.schema_records import EvidenceSchemaRecords
    from integrations.evidence.store import store_from
    from integrations.kubernetes.jobs import KubernetesJobs

    store = store_from(settings, policy.evidence.retention, SystemClock())
    database = DatabaseExecutor(policy.databases, KubernetesJobs(kube), store)
    owners = {
        (db.namespace, name): db_name
        for db_name, db in policy.databases.items()
        for name in db.deployments
    }
    records = EvidenceSchemaRecords(store)
    deployment = DeploymentWithItsDatabase(kube, database, owners, records)
    return {"database": database, "deployment": deployment}
