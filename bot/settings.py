"""Configuration from the environment (ROLLBOT_* and Slack's own variable names)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class MissingSettingError(Exception):
    """A required setting is absent; the message is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROLLBOT_", extra="ignore", populate_by_name=True)

    database_url: str = "sqlite+aiosqlite:///rollbot.db"
    slack_bot_token: str = Field(validation_alias=AliasChoices("SLACK_BOT_TOKEN"))
    slack_signing_secret: str = Field(validation_alias=AliasChoices("SLACK_SIGNING_SECRET"))
    slack_app_token: str | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN")
    )
    # Unset means Slack itself; the sandbox and tests point this at a local fake.
    slack_api_url: str | None = None
    policy_file: Path | None = None
    # Which executor rolls targets back: "kubernetes" (deployments through the API server),
    # "sandbox" (the scripted stand-in tests use), or "none" (refuse every target).
    executor: Literal["kubernetes", "sandbox", "none"] = "none"
    # For the kubernetes executor: a kubeconfig and context; unset means in-cluster config.
    kubeconfig: Path | None = None
    kube_context: str | None = None
    # Ed25519 key that signs audit checkpoints: a base64 seed, or a PEM file (created if absent).
    audit_signing_key: str | None = None
    audit_key_file: Path = Path("rollbot-audit.key")
    audit_checkpoint_every: int = Field(default=100, ge=1)
    evidence_dir: Path = Path("evidence")
    # Alertmanager webhooks on POST /alerts/alertmanager: a bearer token, or "user:password"
    # for basic auth. With neither set, every alert is refused with 401.
    alert_token: str | None = None
    alert_basic_auth: str | None = None
    # When set, evidence packs go to this S3 bucket (Object Lock enabled) instead of evidence_dir.
    evidence_s3_bucket: str | None = None
    evidence_s3_endpoint: str | None = None
    log_format: str = "json"
    log_level: str = "info"


class DatabaseSettings(BaseSettings):
    """What the operator commands (db, audit) need: no Slack settings."""

    model_config = SettingsConfigDict(env_prefix="ROLLBOT_", extra="ignore")

    database_url: str = Settings.model_fields["database_url"].default
    audit_signing_key: str | None = None
    audit_key_file: Path = Settings.model_fields["audit_key_file"].default


def load_settings(**overrides: object) -> Settings:
    """Read settings; turn pydantic's report into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        # Aliased fields report their environment name already (SLACK_BOT_TOKEN).
        name = field if field.isupper() else f"ROLLBOT_{field.upper()}"
        if first["type"] == "missing":
            raise MissingSettingError(f"missing required setting {name}") from None
        raise MissingSettingError(f"invalid setting {name}: {first['msg']}") from None
