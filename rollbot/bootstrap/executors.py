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


def database_executor(settings: Settings, policy: ApprovalPolicy, kube: Any) -> Any | None:
    """The databases the policy declares, rolled back with Jobs on the services' cluster; the
    backups go to the evidence store. None when the policy declares none."""
    if not policy.databases:
        return None
    from bot.ports import SystemClock
    from integrations.database.executor import DatabaseExecutor
    from integrations.evidence.store import store_from
    from integrations.kubernetes.jobs import KubernetesJobs

    store = store_from(settings, policy.evidence.retention, SystemClock())
    return DatabaseExecutor(policy.databases, KubernetesJobs(kube), store)


def with_databases(deployment: Any, database: Any, policy: ApprovalPolicy) -> Any:
    """Deployments whose releases carry a database's migrations roll back with their schema."""
    from bot.usecases.migrating_rollback import DeploymentWithItsDatabase

    owners = {
        (db.namespace, name): db_name
        for db_name, db in policy.databases.items()
        for name in db.deployments
    }
    return DeploymentWithItsDatabase(deployment, database, owners)
