"""Approval matrix and separation of duties (the rollback runbook "Rollback Approval Matrix", the rollback auditing guide)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from bot.domain.errors import ApprovalRefusedError, OverrideRefusedError
from bot.domain.people import Person
from bot.domain.policy import MatrixRow, Role
from bot.domain.severity import TOP_SEVERITY, Severity


class Approval(BaseModel):
    model_config = ConfigDict(frozen=True)

    by: Person
    role: Role
    at: datetime


class EmergencyOverride(BaseModel):
    model_config = ConfigDict(frozen=True)

    by: Person
    reason: str
    at: datetime


def matrix_roles(row: MatrixRow) -> tuple[Role, ...]:
    """Roles whose approval the matrix asks for in the normal (non-emergency) path."""
    if row.requires:
        return row.requires
    assert row.auto_approve_for is not None  # MatrixRow validation guarantees one of the two
    return (row.auto_approve_for,)


def is_auto_approved(row: MatrixRow, requester_roles: frozenset[Role]) -> bool:
    return row.auto_approve_for is not None and row.auto_approve_for in requester_roles


def roles_needed_now(
    row: MatrixRow,
    requester_roles: frozenset[Role],
    override: EmergencyOverride | None,
    *,
    recheck: bool = False,
) -> tuple[Role, ...]:
    """What must still be given before execution; an override swaps the matrix for its extra roles.

    `recheck`: the plan changed after approval. Then the matrix's own roles must approve it,
    whatever auto-approval or override applied before: no automatic path runs a changed plan."""
    if recheck:
        return matrix_roles(row)
    if override is not None:
        return row.emergency_override.extra_roles
    if is_auto_approved(row, requester_roles):
        return ()
    return matrix_roles(row)


def open_roles(needed: tuple[Role, ...], approvals: tuple[Approval, ...]) -> tuple[Role, ...]:
    filled = {a.role for a in approvals}
    return tuple(r for r in needed if r not in filled)


def describe_roles(roles: tuple[Role, ...]) -> str:
    return " + ".join(r.value.replace("_", " ") for r in roles) or "nobody"


def choose_role_to_fill(
    *,
    needed: tuple[Role, ...],
    approvals: tuple[Approval, ...],
    requester: Person,
    already_acting: tuple[Person, ...],
    by: Person,
    roles: frozenset[Role],
) -> Role:
    """Return the open role `by` fills, or refuse with the reason and who may approve."""
    remaining = open_roles(needed, approvals)
    who = describe_roles(remaining)
    if by.id == requester.id:
        raise ApprovalRefusedError(
            f"you requested this rollback, so you cannot approve it; it needs: {who}"
        )
    prior = next((a for a in approvals if a.by.id == by.id), None)
    if prior is not None:
        raise ApprovalRefusedError(
            f"you already approved as {prior.role.value}; one person fills one role. Still needed: {who}"
        )
    if any(p.id == by.id for p in already_acting):
        raise ApprovalRefusedError(
            f"you already act on this request in another role; one person fills one role. Still needed: {who}"
        )
    for role in remaining:
        if role in roles:
            return role
    raise ApprovalRefusedError(f"approval needs {who}; you hold none of those roles")


def check_denier(
    *, needed: tuple[Role, ...], requester: Person, by: Person, roles: frozenset[Role]
) -> Role:
    if by.id == requester.id:
        raise ApprovalRefusedError("you requested this rollback; cancel it instead of denying it")
    for role in needed:
        if role in roles:
            return role
    raise ApprovalRefusedError(
        f"only {describe_roles(needed)} may deny this rollback; you hold none of those roles"
    )


def check_override(*, row: MatrixRow, severity: Severity, reason: str) -> None:
    """The runbook: an emergency override only at the top severity, with a reason on record
    (who may declare it is the policy's declare_override rule)."""
    if not row.emergency_override.allowed:
        raise OverrideRefusedError("the policy allows no emergency override for this rollback type")
    if severity is not TOP_SEVERITY:
        raise OverrideRefusedError(
            f"emergency override is only for {TOP_SEVERITY.value} incidents; this one is {severity.value}"
        )
    if not reason.strip():
        raise OverrideRefusedError("an emergency override needs a reason for the evidence pack")
