"""Configuration from the environment (ROLLBOT_* and Slack's own variable names)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MissingSettingError(Exception):
    """A required setting is absent; the message is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROLLBOT_", extra="ignore", populate_by_name=True)

    database_url: str = "sqlite+aiosqlite:///rollbot.db"
    slack_bot_token: str = Field(validation_alias=AliasChoices("SLACK_BOT_TOKEN"))
    slack_signing_secret: str = Field(validation_alias=AliasChoices("SLACK_SIGNING_SECRET"))
    # When set, requests carrying another app's api_app_id are refused.
    slack_app_id: str | None = None
    slack_app_token: str | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN")
    )
    # Unset means Slack itself; the sandbox and tests point this at a local fake.
    slack_api_url: str | None = None
    policy_file: Path | None = None
    # Which executor rolls targets back: "kubernetes" (deployments through the API server),
    # "sandbox" (the scripted stand-in tests use), or "none" (refuse every target). `serve`
    # refuses to start with it unset: a bot that refuses every target must be asked for.
    executor: Literal["kubernetes", "sandbox", "none"] | None = None
    # For the kubernetes executor: a kubeconfig and context; unset means in-cluster config.
    kubeconfig: Path | None = None
    kube_context: str | None = None
    # Ed25519 key that signs audit checkpoints: a base64 raw private key, or a PEM file (created if absent).
    audit_signing_key: str | None = None
    audit_key_file: Path = Path("rollbot-audit.key")
    audit_checkpoint_every: int = Field(default=100, ge=1)
    evidence_dir: Path = Path("evidence")
    # Alertmanager webhooks on POST /alerts/alertmanager: a bearer token, or "user:password"
    # for basic auth. With neither set, every alert is refused with 401.
    alert_token: str | None = None
    alert_basic_auth: str | None = None
    # GET /readiness (the deploy readiness gate) wants this bearer token; unset: always 401.
    readiness_token: str | None = None
    # When set, evidence packs go to this S3 bucket (Object Lock enabled) instead of evidence_dir.
    evidence_s3_bucket: str | None = None
    evidence_s3_endpoint: str | None = None
    # AWS CodeDeploy through boto3: the region, and an endpoint (unset: AWS itself). Credentials
    # come from boto3's usual chain (environment, profile, instance role).
    aws_region: str = "us-east-1"
    codedeploy_endpoint: str | None = None
    # Feature flags: which service `flag/<key>` targets live in, and how to reach it.
    flag_provider: Literal["launchdarkly", "unleash", "none"] = "none"
    launchdarkly_url: str = "https://app.launchdarkly.com"
    launchdarkly_token: str | None = None
    launchdarkly_project: str = "default"
    unleash_url: str | None = None
    unleash_token: str | None = None
    unleash_project: str = "default"
    # How long a rollback's process may go silent before another takes over following it, and
    # how often the scheduler ticks (decision timeouts, reminders, the watch, evidence retries).
    # Every outbound call gives up after its timeout, so a hung dependency fails a step cleanly.
    kube_request_timeout_seconds: float = Field(default=10, gt=0)
    codedeploy_timeout_seconds: float = Field(default=15, gt=0)
    flags_timeout_seconds: float = Field(default=10, gt=0)
    health_timeout_seconds: float = Field(default=10, gt=0)
    s3_timeout_seconds: float = Field(default=15, gt=0)
    slack_timeout_seconds: float = Field(default=10, gt=0)
    # Messages into one channel: about one a second with a short burst, as Slack allows.
    slack_channel_messages_per_second: float = Field(default=1.0, gt=0)
    slack_channel_burst: int = Field(default=4, ge=1)
    # SQLite: how long a write waits for a lock before the database answers "locked".
    database_busy_timeout_seconds: float = Field(default=30, gt=0)
    execution_lease_seconds: float = Field(default=120, gt=0)
    # A rollback's process renews its lease only while the rollback makes progress (a line on the
    # timeline within execution_stall_seconds) and never past execution_deadline_seconds (the
    # rollout's own timeout with room to spare); past either, another process takes it over.
    execution_stall_seconds: float = Field(default=600, gt=0)
    execution_deadline_seconds: float = Field(default=900, gt=0)
    # A takeover that finds the target untouched waits this long before it acts, so a change the
    # previous process had already sent lands or times out first (at least the longest timeout).
    takeover_grace_seconds: float = Field(default=20, ge=0)
    tick_seconds: float = Field(default=15, gt=0)
    # How often a worker looks for stored Slack requests and alerts that another process (a
    # `serve --no-worker` replica) stored; within one process a stored item wakes it at once.
    inbox_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # json for a log pipeline; console: key=value lines for a terminal; auto: console on a
    # terminal, json otherwise
    log_format: Literal["json", "console", "auto"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        """INFO and info are the same level to everyone who types them."""
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _flag_service_reachable(self) -> Settings:
        if self.flag_provider == "launchdarkly" and not self.launchdarkly_token:
            raise ValueError("ROLLBOT_FLAG_PROVIDER=launchdarkly needs ROLLBOT_LAUNCHDARKLY_TOKEN")
        if self.flag_provider == "unleash" and not (self.unleash_url and self.unleash_token):
            raise ValueError(
                "ROLLBOT_FLAG_PROVIDER=unleash needs ROLLBOT_UNLEASH_URL and ROLLBOT_UNLEASH_TOKEN"
            )
        return self


class DatabaseSettings(BaseSettings):
    """What the operator commands (db, audit) need: no Slack settings."""

    model_config = SettingsConfigDict(env_prefix="ROLLBOT_", extra="ignore")

    database_url: str = Settings.model_fields["database_url"].default
    audit_signing_key: str | None = None
    audit_key_file: Path = Settings.model_fields["audit_key_file"].default
    policy_file: Path | None = None
    # where checkpoints are anchored (verify --anchors reads them back)
    evidence_dir: Path = Settings.model_fields["evidence_dir"].default
    evidence_s3_bucket: str | None = None
    evidence_s3_endpoint: str | None = None
    s3_timeout_seconds: float = Settings.model_fields["s3_timeout_seconds"].default


def variable_name(model: type[BaseSettings], field: str) -> str:
    """The environment variable a setting is read from (an alias such as SLACK_BOT_TOKEN, or
    ROLLBOT_ and the field's name)."""
    alias = model.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"ROLLBOT_{field.upper()}"


def variables_read(model: type[BaseSettings] = Settings) -> str:
    """What a command's --help says it reads: the required variables, then every optional one."""
    fields = model.model_fields
    required = [variable_name(model, f) for f, info in fields.items() if info.is_required()]
    optional = [variable_name(model, f) for f, info in fields.items() if not info.is_required()]
    head = f"Reads {' and '.join(required)} (required)" if required else "Reads"
    return f"{head}; when set: {', '.join(optional)}. README's Configuration says what each does."


def load_settings(**overrides: object) -> Settings:
    """Read settings; turn pydantic's report into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a rule across settings: its message names them
            raise MissingSettingError(str(first["msg"]).removeprefix("Value error, ")) from None
        field = str(first["loc"][0])
        # Aliased fields report their environment name already (SLACK_BOT_TOKEN).
        name = field if field.isupper() else f"ROLLBOT_{field.upper()}"
        if first["type"] == "missing":
            raise MissingSettingError(f"missing required setting {name}") from None
        raise MissingSettingError(f"invalid setting {name}: {first['msg']}") from None
