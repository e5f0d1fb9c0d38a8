"""What a policy file must get right beyond its shape, and the policy in words.

The model (bot.domain.policy) checks each field alone; these checks need several at once:
roles referenced by the matrix and the act rules are defined, alert routes name real targets,
Slack ids look like Slack ids. Each problem carries the path to the field, for file:line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.acts import rule_text
from bot.domain.approvals import describe_roles, matrix_roles
from bot.domain.policy import RUNBOOK_ROLES, ApprovalPolicy, Role, RollbackType
from bot.domain.targets import InputError, target_from

Path = tuple[str | int, ...]
_CHANNEL = re.compile(r"^([CG][A-Z0-9]+|#?[a-z0-9][a-z0-9_-]{0,79})$")
_USER = re.compile(r"^[UW][A-Z0-9]+$")
_GROUP = re.compile(r"^S[A-Z0-9]+$")
_TEAM = re.compile(r"^T[A-Z0-9]+$")


@dataclass(frozen=True)
class Problem:
    path: Path
    reason: str

    @property
    def field(self) -> str:
        return ".".join(str(p) for p in self.path)


def _undefined(defined: frozenset[Role], roles: tuple[Role, ...], path: Path) -> list[Problem]:
    return [
        Problem((*path, i), f"role {role} is not defined under roles")
        for i, role in enumerate(roles)
        if role not in defined
    ]


def _role_problems(policy: ApprovalPolicy) -> list[Problem]:
    defined = RUNBOOK_ROLES | frozenset(policy.roles)
    found: list[Problem] = []
    for kind, row in policy.approval_matrix.items():
        at: Path = ("approval_matrix", kind.value)
        found += _undefined(defined, row.requires, (*at, "requires"))
        extra = row.emergency_override.extra_roles
        found += _undefined(defined, extra, (*at, "emergency_override", "extra_roles"))
        if row.auto_approve_for is not None and row.auto_approve_for not in defined:
            found.append(Problem((*at, "auto_approve_for"), "role is not defined under roles"))
    for act, rule in policy.acts.items():
        found += _undefined(defined, rule.roles, ("acts", act.value, "roles"))
    return found


def _slack_id_problems(policy: ApprovalPolicy) -> list[Problem]:
    found: list[Problem] = []
    for role, source in policy.roles.items():
        if source.usergroup is not None and not _GROUP.match(source.usergroup):
            found.append(Problem(("roles", role, "usergroup"), "a Slack user group id is S…"))
        for i, user in enumerate(source.users):
            if not _USER.match(user):
                found.append(Problem(("roles", role, "users", i), "a Slack user id is U… or W…"))
    channel = policy.paging.incidents_channel
    if channel is not None and not _CHANNEL.match(channel):
        found.append(Problem(("paging", "incidents_channel"), "not a Slack channel id or name"))
    for i, listed in enumerate(policy.reporting.channels):
        if not _CHANNEL.match(listed):
            found.append(Problem(("reporting", "channels", i), "not a Slack channel id or name"))
    for i, team in enumerate(policy.workspaces):
        if not _TEAM.match(team):
            found.append(Problem(("workspaces", i), "a Slack workspace id is T…"))
    return found


def policy_problems(policy: ApprovalPolicy) -> list[Problem]:
    """Everything wrong with a policy that its fields' own validation cannot see."""
    found = _role_problems(policy) + _slack_id_problems(policy)
    for i, route in enumerate(policy.alerts):
        try:
            target_from(route.target, route.namespace)
        except InputError as exc:
            found.append(Problem(("alerts", i, "target"), str(exc)))
    return found


def _minutes(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min"


def describe_policy(policy: ApprovalPolicy) -> str:
    """The effective policy, for `rollbot policy show`: who holds each role, what each rollback
    type needs, who may do each act, and the deadlines."""
    lines = ["Roles (who holds them)"]
    for role in sorted(RUNBOOK_ROLES | frozenset(policy.roles)):
        source = policy.roles.get(role)
        held = [] if source is None else [*source.users]
        if source is not None and source.usergroup:
            held.append(f"Slack user group {source.usergroup}")
        lines.append(f"  {role}: {', '.join(held) or 'nobody yet'}")
    lines.append("Approval matrix")
    for kind, row in policy.approval_matrix.items():
        needs = (
            f"auto-approved for {row.auto_approve_for.value.replace('_', ' ')}"
            if row.auto_approve_for is not None and not row.requires
            else f"needs {describe_roles(row.requires)}"
        )
        override = row.emergency_override
        how = "no emergency override" if not override.allowed else "emergency override allowed"
        if override.allowed and override.extra_roles:
            how += f" (then also {describe_roles(override.extra_roles)})"
        lines.append(f"  {kind.value}: {needs}; {how}")
    # a rule that names "the matrix's roles" is shown for an older-version deployment rollback
    lines.append("Who may (matrix roles as for a deployment_older_version rollback)")
    matrix = matrix_roles(policy.row(RollbackType.DEPLOYMENT_OLDER_VERSION))
    for act, rule in policy.acts.items():
        lines.append(f"  {act.value}: {rule_text(rule, matrix)}")
    lines.append("Deadlines")
    for name, value in policy.deadlines:
        lines.append(f"  {name}: {_minutes(value.total_seconds())}")
    lines.append(
        f"  group roles trusted while Slack is down: {_minutes(policy.roles_max_age.total_seconds())}"
    )
    for route in policy.alerts:
        match = ", ".join(f"{k}={v}" for k, v in route.match.items())
        lines.append(f"Alert route: {match} → {route.target} {route.namespace or ''}".rstrip())
    return "\n".join(lines)
