"""The policy's `databases:` section: each database rollbot may roll back, how it reaches it, and
which releases carry its migrations.

The rollback runbook's database procedure (full backup first, identify the migration, run the
downgrade, verify the schema, test the application) and its approval row (DBA and Engineering
Lead; an emergency also needs the CTO) apply to every database named here."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class SecretKey(BaseModel):
    """One key of a Kubernetes Secret in the database's namespace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    key: str


class DatabasePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The environment variable holding the DSN rollbot backs up and checks the schema with.
    dsn_env: str
    # A read-only role for evidence (schema dumps, row counts); unset: the DSN above.
    readonly_dsn_env: str | None = None
    # The Secret key the downgrade Job reads its DSN from (as DATABASE_URL): the password stays
    # in the cluster, never in the Job's spec or the evidence.
    dsn_secret: SecretKey
    # Where the downgrade Job runs.
    namespace: str = "default"
    # The Deployments whose releases carry this database's migrations; the first one's running
    # image (the newer release, which has the downgrade scripts) runs the downgrade.
    deployments: tuple[str, ...] = Field(min_length=1)
    # Which container of that Deployment holds the migrations (unset: the first).
    container: str | None = None
    tool: Literal["alembic"] = "alembic"
    # The tool's configuration inside the image (`alembic -c`).
    config_file: str = "alembic.ini"
    # Evidence-store folder where the pre-deployment backups are kept: the runbook's "verify the
    # pre-deployment backup exists" is then a check before anything changes.
    backup_location: str | None = None
    # Minutes a restore of the pre-migration backup takes, as last measured: the decision tree
    # asks whether it is under 30. Unset: no restore time is known, and the tree says so.
    restore_minutes: int | None = Field(default=None, ge=0)
    # How long the downgrade Job may run before it is failed (activeDeadlineSeconds).
    job_timeout: timedelta = Field(default=timedelta(minutes=15), gt=timedelta(0))
    # How long the backup (pg_dump) may take.
    backup_timeout: timedelta = Field(default=timedelta(minutes=30), gt=timedelta(0))

    @field_validator("dsn_env", "readonly_dsn_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(f"`{value}` is not an environment variable name (A-Z, 0-9, _)")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not _K8S_NAME.match(value):
            raise ValueError(f"`{value}` is not a Kubernetes namespace")
        return value
