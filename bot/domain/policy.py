"""Approval policy (the rollback runbook "Rollback Approval Matrix"; deadlines from the change management guide and the rollback runbook).

The model validates a policy already parsed from YAML; reading the file is bot.config.policy_file's job.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, model_validator
from pydantic_core import core_schema

from bot.domain.alerts import AlertRoute
from bot.domain.database_policy import DatabasePolicy
from bot.domain.drill_policy import DrillPolicy


class RollbackType(StrEnum):
    DEPLOYMENT_LAST_VERSION = "deployment_last_version"
    DEPLOYMENT_OLDER_VERSION = "deployment_older_version"
    CONFIGURATION = "configuration"
    DATABASE = "database"
    # A database put back as its backup was: everything written since is lost.
    DATABASE_RESTORE = "database_restore"
    POLICY = "policy"
    STATE_SNAPSHOT = "state_snapshot"
    FEATURE_FLAG = "feature_flag"


_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class Role(str):
    """A role name, as the policy defines it (lower case, digits, underscores). The runbook's
    roles are predefined (Role.ON_CALL, ...); a policy may define more (`sre_lead`) and use them
    in the matrix and the act rules."""

    __slots__ = ()

    VP_ENGINEERING: ClassVar[Role]
    ON_CALL: ClassVar[Role]
    INCIDENT_COMMANDER: ClassVar[Role]
    ENGINEERING_LEAD: ClassVar[Role]
    DEVOPS_LEAD: ClassVar[Role]
    DBA: ClassVar[Role]
    GOVERNANCE_LEAD: ClassVar[Role]
    SECURITY: ClassVar[Role]
    DATA_OWNER: ClassVar[Role]
    APPROVER: ClassVar[Role]
    CTO: ClassVar[Role]
    CISO: ClassVar[Role]
    CUSTOMER_SUCCESS: ClassVar[Role]

    def __new__(cls, name: str) -> Role:
        if not _ROLE_NAME.match(name):
            raise ValueError(f"`{name}` is not a role name: lower case letters, digits and _")
        return super().__new__(cls, name)

    @property
    def value(self) -> str:
        return str(self)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.to_string_ser_schema()
        )


# The runbook's roles: always defined, whether or not the policy names who holds them.
_RUNBOOK = (
    "vp_engineering",
    "on_call",
    "incident_commander",
    "engineering_lead",
    "devops_lead",
    "dba",
    "governance_lead",
    "security",
    "data_owner",
    "approver",
    "cto",
    "ciso",
    "customer_success",
)
for _name in _RUNBOOK:
    setattr(Role, _name.upper(), Role(_name))
RUNBOOK_ROLES = frozenset(Role(n) for n in _RUNBOOK)


class Act(StrEnum):
    """What a person does to a request or its obligations, each with its own rule of who may."""

    DECIDE = "decide"
    CANCEL = "cancel"
    DECLARE_OVERRIDE = "declare_override"
    APPROVE_RETROACTIVELY = "approve_retroactively"
    WRITTEN_APPROVAL = "written_approval"
    POST_EMERGENCY_REVIEW = "post_emergency_review"
    POST_MORTEM = "post_mortem"
    CUSTOMER_NOTIFICATION = "customer_notification"
    CONFIRM_RECOVERY = "confirm_recovery"
    DECLARE_TOP_SEVERITY = "declare_top_severity"


class ActRule(BaseModel):
    """Who may perform one act: anyone, or the holders of `roles`, the approval matrix's roles
    for the rollback's type (`matrix_roles`), and the requester (`requester`); minus the
    requester and the override's declarer when the rule separates duties."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    anyone: bool = False
    roles: tuple[Role, ...] = ()
    matrix_roles: bool = False
    requester: bool = False
    not_the_requester: bool = False
    not_the_overrider: bool = False

    @model_validator(mode="after")
    def _someone(self) -> ActRule:
        if not (self.anyone or self.roles or self.matrix_roles or self.requester):
            raise ValueError("names nobody: give roles, matrix_roles, requester or anyone")
        return self


def default_acts() -> dict[Act, ActRule]:
    """The sources' rules: separation of duties on emergency changes (the change's approvers
    never include who declared it or asked for it), reviews by leads, customer notice by the
    incident commander or customer success, recovery confirmed by a person in the channel."""
    deciders = (Role.INCIDENT_COMMANDER, Role.ENGINEERING_LEAD, Role.ON_CALL)
    separated = ActRule(matrix_roles=True, not_the_requester=True, not_the_overrider=True)
    return {
        Act.DECIDE: ActRule(roles=deciders, requester=True),
        Act.CANCEL: ActRule(roles=(Role.INCIDENT_COMMANDER,), requester=True),
        Act.DECLARE_OVERRIDE: ActRule(roles=(Role.INCIDENT_COMMANDER,)),
        Act.APPROVE_RETROACTIVELY: separated,
        Act.WRITTEN_APPROVAL: separated,
        Act.POST_EMERGENCY_REVIEW: ActRule(roles=(Role.ENGINEERING_LEAD, Role.GOVERNANCE_LEAD)),
        Act.POST_MORTEM: ActRule(roles=deciders, requester=True),
        Act.CUSTOMER_NOTIFICATION: ActRule(roles=(Role.INCIDENT_COMMANDER, Role.CUSTOMER_SUCCESS)),
        Act.CONFIRM_RECOVERY: ActRule(anyone=True),
        Act.DECLARE_TOP_SEVERITY: ActRule(anyone=True),
    }


class RoleSource(BaseModel):
    """Who holds a role: members of a Slack user group, explicit user IDs, or both."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    usergroup: str | None = None
    users: tuple[str, ...] = ()


class OverrideRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed: bool = True
    # Approvals still needed before an overridden rollback runs (database: CTO, ...).
    extra_roles: tuple[Role, ...] = ()


class MatrixRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    requires: tuple[Role, ...] = ()
    auto_approve_for: Role | None = None
    emergency_override: OverrideRule = OverrideRule()

    @model_validator(mode="after")
    def _roles_distinct(self) -> MatrixRow:
        if len(set(self.requires)) != len(self.requires):
            raise ValueError("a role is listed twice in requires")
        if not self.requires and self.auto_approve_for is None:
            raise ValueError("needs at least one required role or auto_approve_for")
        return self


class Deadlines(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    decision_timeout: timedelta = timedelta(minutes=30)
    retro_approval: timedelta = timedelta(hours=4)
    emergency_written_approval: timedelta = timedelta(hours=24)
    post_emergency_review: timedelta = timedelta(days=5)
    post_mortem: timedelta = timedelta(hours=48)
    # The change management guide "monitor for 30 minutes": recovery is re-checked this often, this long.
    watch_window: timedelta = timedelta(minutes=30)
    watch_interval: timedelta = timedelta(minutes=5)
    # A rollback no check verified: a person is asked to confirm recovery within this long.
    recovery_confirmation: timedelta = timedelta(hours=1)
    # A version rolled back from within this long is flagged when a plan would re-deploy it.
    rolled_back_from_window: timedelta = timedelta(days=7)

    @model_validator(mode="after")
    def _positive(self) -> Deadlines:
        for name, value in self:
            if value <= timedelta(0):
                raise ValueError(f"{name} must be a positive duration")
        return self


class HttpCheck(BaseModel):
    """One request and what its answer must be (a health check or a smoke test)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    url: str
    method: Literal["GET", "POST"] = "GET"
    body: str | None = None
    expect_status: int = 200
    expect_body: str | None = None


class MetricsCheck(BaseModel):
    """Prometheus instant queries; the change management guide thresholds decide."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prometheus_url: str
    error_rate_query: str | None = None  # a ratio 0..1
    latency_query: str | None = None  # seconds, now
    baseline_latency_seconds: float | None = Field(default=None, gt=0)


class VerificationPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    health: tuple[HttpCheck, ...] = ()
    smoke: tuple[HttpCheck, ...] = ()
    metrics: MetricsCheck | None = None

    @property
    def configured(self) -> bool:
        return bool(self.health or self.smoke or self.metrics)


class ServicePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_rollback_on_timeout: bool = True
    # Rollback types the policy marks as touching authentication or authorisation.
    security_sensitive: bool = False
    # The kubeconfig context of the cluster this service runs in (else the default context).
    kube_context: str | None = None
    # How recovery is proven after a rollback (the SOC 2 rollback and recovery procedures: no validation of recovery is a finding).
    verification: VerificationPolicy = VerificationPolicy()
    # A Helm-managed Deployment: refuse a kubectl-style undo (roll the release back instead),
    # or allow it for this service.
    helm: Literal["refuse", "kubectl-undo"] = "refuse"


class PagingPolicy(BaseModel):
    """Where a declared incident is announced (the incident response standard "Alert")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # P3 goes to this channel (Slack channel ID), not to a person.
    incidents_channel: str | None = None


class ReportingPolicy(BaseModel):
    """Where the monthly report may be posted in Slack: only in these channels (Slack channel
    IDs); with none listed, wherever a person holding a policy role asks for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channels: tuple[str, ...] = ()


class EvidencePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # S3 Object Lock COMPLIANCE retention of evidence packs; SOC 2 evidence is commonly kept 7 years.
    retention: timedelta = timedelta(days=7 * 365)
    # The runbook's `kubectl logs --all-containers --tail=1000` of the version rolled back from,
    # and a shorter window of the restored version's logs once verification has run.
    log_lines: int = Field(default=1000, ge=1, le=100_000)
    log_lines_after: int = Field(default=200, ge=1, le=100_000)
    # The most of one container's log kept; the file says where it was cut.
    log_bytes: int = Field(default=512 * 1024, ge=1024, le=64 * 1024 * 1024)
    # Describe output and logs are evidence, not a step: past this they are left out (and the
    # manifest says so) so that a slow kubelet never holds up the rollback.
    readable_timeout: timedelta = Field(default=timedelta(seconds=20), gt=timedelta(0))
    # Kubernetes events are kept from this long before the incident was detected.
    events_lead: timedelta = timedelta(minutes=15)


class InboxPolicy(BaseModel):
    """How long what Slack and Alertmanager sent is kept after it was processed (to answer
    "what did that command or alert do?"); items that failed are kept until a person looks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    retention: timedelta = Field(default=timedelta(days=30), ge=timedelta(hours=1))


def _default_matrix() -> dict[RollbackType, MatrixRow]:
    top_only = OverrideRule()
    return {
        RollbackType.DEPLOYMENT_LAST_VERSION: MatrixRow(auto_approve_for=Role.ON_CALL),
        RollbackType.DEPLOYMENT_OLDER_VERSION: MatrixRow(requires=(Role.ENGINEERING_LEAD,)),
        RollbackType.CONFIGURATION: MatrixRow(requires=(Role.DEVOPS_LEAD,)),
        RollbackType.DATABASE: MatrixRow(
            requires=(Role.DBA, Role.ENGINEERING_LEAD),
            emergency_override=OverrideRule(extra_roles=(Role.CTO,)),
        ),
        RollbackType.DATABASE_RESTORE: MatrixRow(
            requires=(Role.DBA, Role.ENGINEERING_LEAD, Role.INCIDENT_COMMANDER),
            emergency_override=OverrideRule(extra_roles=(Role.CTO,)),
        ),
        RollbackType.POLICY: MatrixRow(
            requires=(Role.GOVERNANCE_LEAD, Role.SECURITY),
            emergency_override=OverrideRule(extra_roles=(Role.CISO,)),
        ),
        RollbackType.STATE_SNAPSHOT: MatrixRow(
            requires=(Role.DATA_OWNER, Role.APPROVER),
            emergency_override=OverrideRule(extra_roles=(Role.ENGINEERING_LEAD,)),
        ),
        # A flag flip is a configuration change unless the policy says otherwise.
        RollbackType.FEATURE_FLAG: MatrixRow(
            requires=(Role.DEVOPS_LEAD,), emergency_override=top_only
        ),
    }


class ApprovalPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(default=1, ge=1, le=1)
    roles: dict[Role, RoleSource] = Field(default_factory=dict)
    # `roles.max_age` in the file: how long a Slack user group's last answer is trusted while
    # Slack cannot be asked; past it, roles resting on the group are not granted.
    roles_max_age: timedelta = timedelta(minutes=10)
    approval_matrix: dict[RollbackType, MatrixRow] = Field(default_factory=_default_matrix)
    deadlines: Deadlines = Deadlines()
    services: dict[str, ServicePolicy] = Field(default_factory=dict)
    evidence: EvidencePolicy = EvidencePolicy()
    inbox: InboxPolicy = InboxPolicy()
    # Which Alertmanager alerts open a rollback request for which target.
    alerts: tuple[AlertRoute, ...] = ()
    paging: PagingPolicy = PagingPolicy()
    reporting: ReportingPolicy = ReportingPolicy()
    # More Slack workspaces (team ids) whose requests are accepted, beside the one rollbot's
    # token belongs to (an Enterprise Grid install across workspaces).
    workspaces: tuple[str, ...] = ()
    # Who may do what to a request; an act left out keeps its default rule.
    acts: dict[Act, ActRule] = Field(default_factory=default_acts)
    drills: DrillPolicy = DrillPolicy()
    # The databases rollbot may roll back, by name (`database/<name>`).
    databases: dict[str, DatabasePolicy] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _roles_max_age(cls, data: Any) -> Any:
        """`max_age` sits among the roles in the file, where people look for it."""
        roles = data.get("roles") if isinstance(data, dict) else None
        if isinstance(roles, dict) and "max_age" in roles:
            roles = dict(roles)
            data = {**data, "roles": roles, "roles_max_age": roles.pop("max_age")}
        return data

    @model_validator(mode="after")
    def _every_act_ruled(self) -> ApprovalPolicy:
        missing = {a: r for a, r in default_acts().items() if a not in self.acts}
        if missing:
            object.__setattr__(self, "acts", {**missing, **self.acts})
        return self

    @model_validator(mode="after")
    def _complete_matrix(self) -> ApprovalPolicy:
        defaults = _default_matrix()
        merged = {kind: self.approval_matrix.get(kind, defaults[kind]) for kind in RollbackType}
        object.__setattr__(self, "approval_matrix", merged)
        return self

    def row(self, kind: RollbackType) -> MatrixRow:
        return self.approval_matrix[kind]

    def service(self, name: str) -> ServicePolicy:
        return self.services.get(name, ServicePolicy())
