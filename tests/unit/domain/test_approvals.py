"""Approval matrix and separation of duties. Source: the rollback runbook "Rollback Approval Matrix" and
"Emergency Override"; separation of duties: the rollback auditing practice (auditors' unauthorised-approver findings)."""

from __future__ import annotations

import pytest

from bot.domain import approvals as ap
from bot.domain.errors import ApprovalRefusedError, OverrideRefusedError
from bot.domain.policy import ApprovalPolicy, MatrixRow, OverrideRule, Role, RollbackType
from bot.domain.severity import Severity
from tests.unit.domain.factories import ALICE, BOB, CAROL, T0, roles

POLICY = ApprovalPolicy()
K = RollbackType


@pytest.mark.parametrize(
    ("kind", "normal", "override_extra"),
    [
        # the rollback runbook matrix, row by row
        (K.DEPLOYMENT_LAST_VERSION, (Role.ON_CALL,), ()),
        (K.DEPLOYMENT_OLDER_VERSION, (Role.ENGINEERING_LEAD,), ()),
        (K.CONFIGURATION, (Role.DEVOPS_LEAD,), ()),
        (K.DATABASE, (Role.DBA, Role.ENGINEERING_LEAD), (Role.CTO,)),
        (K.POLICY, (Role.GOVERNANCE_LEAD, Role.SECURITY), (Role.CISO,)),
        (K.STATE_SNAPSHOT, (Role.DATA_OWNER, Role.APPROVER), (Role.ENGINEERING_LEAD,)),
        # a feature flag is a configuration rollback unless the policy says otherwise
        (K.FEATURE_FLAG, (Role.DEVOPS_LEAD,), ()),
    ],
)
def test_default_matrix(
    kind: RollbackType, normal: tuple[Role, ...], override_extra: tuple[Role, ...]
) -> None:
    row = POLICY.row(kind)
    assert ap.matrix_roles(row) == normal
    assert row.emergency_override.allowed
    assert row.emergency_override.extra_roles == override_extra
    override = ap.EmergencyOverride(by=BOB, reason="down", at=T0)
    assert ap.roles_needed_now(row, frozenset(), override) == override_extra


def test_last_version_deployment_is_auto_approved_for_on_call_only() -> None:
    row = POLICY.row(K.DEPLOYMENT_LAST_VERSION)
    assert ap.is_auto_approved(row, roles(Role.ON_CALL))
    assert ap.roles_needed_now(row, roles(Role.ON_CALL), None) == ()
    # someone not on call needs the on-call engineer to approve
    assert not ap.is_auto_approved(row, roles(Role.ENGINEERING_LEAD))
    assert ap.roles_needed_now(row, roles(Role.ENGINEERING_LEAD), None) == (Role.ON_CALL,)
    # auto-approval is that row's alone
    assert not ap.is_auto_approved(POLICY.row(K.DATABASE), roles(Role.ON_CALL))


def test_requester_never_approves_their_own_request() -> None:
    with pytest.raises(ApprovalRefusedError, match="you requested this rollback") as err:
        ap.choose_role_to_fill(
            needed=(Role.DBA,),
            approvals=(),
            requester=ALICE,
            already_acting=(),
            by=ALICE,
            roles=roles(Role.DBA),
        )
    assert "it needs: dba" in str(err.value)


def test_one_person_fills_one_role() -> None:
    given = (ap.Approval(by=BOB, role=Role.DBA, at=T0),)
    with pytest.raises(ApprovalRefusedError, match="already approved as dba"):
        ap.choose_role_to_fill(
            needed=(Role.DBA, Role.ENGINEERING_LEAD),
            approvals=given,
            requester=ALICE,
            already_acting=(),
            by=BOB,
            roles=roles(Role.DBA, Role.ENGINEERING_LEAD),
        )


def test_override_declarer_cannot_also_approve() -> None:
    with pytest.raises(ApprovalRefusedError, match="another role"):
        ap.choose_role_to_fill(
            needed=(Role.CTO,),
            approvals=(),
            requester=ALICE,
            already_acting=(BOB,),
            by=BOB,
            roles=roles(Role.CTO),
        )


def test_person_without_an_open_role_is_told_who_may_approve() -> None:
    with pytest.raises(ApprovalRefusedError, match="approval needs dba \\+ engineering lead"):
        ap.choose_role_to_fill(
            needed=(Role.DBA, Role.ENGINEERING_LEAD),
            approvals=(),
            requester=ALICE,
            already_acting=(),
            by=CAROL,
            roles=roles(Role.SECURITY),
        )


def test_a_person_with_two_roles_fills_the_first_open_one() -> None:
    given = (ap.Approval(by=BOB, role=Role.DBA, at=T0),)
    role = ap.choose_role_to_fill(
        needed=(Role.DBA, Role.ENGINEERING_LEAD),
        approvals=given,
        requester=ALICE,
        already_acting=(),
        by=CAROL,
        roles=roles(Role.DBA, Role.ENGINEERING_LEAD),
    )
    assert role == Role.ENGINEERING_LEAD


def test_denier_rules() -> None:
    assert (
        ap.check_denier(needed=(Role.DBA,), requester=ALICE, by=BOB, roles=roles(Role.DBA))
        == Role.DBA
    )
    with pytest.raises(ApprovalRefusedError, match="cancel it instead"):
        ap.check_denier(needed=(Role.DBA,), requester=ALICE, by=ALICE, roles=roles(Role.DBA))
    with pytest.raises(ApprovalRefusedError, match="only dba may deny"):
        ap.check_denier(needed=(Role.DBA,), requester=ALICE, by=BOB, roles=roles(Role.CTO))


@pytest.mark.parametrize(
    ("severity", "who", "reason", "row", "message"),
    [
        (
            Severity.P2,
            roles(Role.INCIDENT_COMMANDER),
            "down",
            POLICY.row(K.DATABASE),
            "only for P1 incidents",
        ),
        (
            Severity.P1,
            roles(Role.INCIDENT_COMMANDER),
            "  ",
            POLICY.row(K.DATABASE),
            "needs a reason",
        ),
        (
            Severity.P1,
            roles(Role.INCIDENT_COMMANDER),
            "down",
            MatrixRow(requires=(Role.DBA,), emergency_override=OverrideRule(allowed=False)),
            "allows no emergency override",
        ),
    ],
)
def test_override_refusals(
    severity: Severity, who: frozenset[Role], reason: str, row: MatrixRow, message: str
) -> None:
    # the rollback runbook: "Emergency Override: Only for P0 incidents. Requires: Incident Commander declaration"
    with pytest.raises(OverrideRefusedError, match=message):
        ap.check_override(row=row, severity=severity, reason=reason)


def test_override_accepted_from_incident_commander_at_top_severity() -> None:
    ap.check_override(row=POLICY.row(K.DATABASE), severity=Severity.P1, reason="down")


def test_describe_roles() -> None:
    assert ap.describe_roles((Role.DBA, Role.ENGINEERING_LEAD)) == "dba + engineering lead"
    assert ap.describe_roles(()) == "nobody"


def test_matrix_row_needs_someone_to_approve() -> None:
    with pytest.raises(ValueError, match="needs at least one required role or auto_approve_for"):
        MatrixRow()
    with pytest.raises(ValueError, match="listed twice"):
        MatrixRow(requires=(Role.DBA, Role.DBA))
