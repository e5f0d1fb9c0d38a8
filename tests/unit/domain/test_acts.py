"""The rule of each act, as a pure function: who it is for, who it never is for, and the words
a refused person reads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.domain.acts import (
    ActRefusedError,
    check_act,
    check_report_channel,
    check_rule,
    rule_text,
    sees_details,
)
from bot.domain.approvals import EmergencyOverride
from bot.domain.people import SYSTEM
from bot.domain.policy import (
    Act,
    ActRule,
    ApprovalPolicy,
    ReportingPolicy,
    Role,
    RollbackType,
    default_acts,
)
from bot.domain.request import RollbackRequest
from tests.unit.domain.factories import ALICE, BOB, DAVE, T0, make_request, roles

OLDER = RollbackType.DEPLOYMENT_OLDER_VERSION


def _overridden_by_dave() -> RollbackRequest:
    request = make_request(OLDER)
    return request.model_copy(update={"override": EmergencyOverride(by=DAVE, reason="down", at=T0)})


def test_the_written_approval_separates_duties() -> None:
    request = _overridden_by_dave()
    lead = roles(Role.ENGINEERING_LEAD)
    with pytest.raises(ActRefusedError, match=r"; you declared the override$"):
        check_act(Act.WRITTEN_APPROVAL, request, DAVE, lead)
    with pytest.raises(ActRefusedError, match=r"; you requested this rollback$"):
        check_act(Act.WRITTEN_APPROVAL, request, ALICE, lead)
    with pytest.raises(ActRefusedError, match=r"; you hold none of those roles$"):
        check_act(Act.WRITTEN_APPROVAL, request, BOB, roles(Role.DBA))
    assert check_act(Act.WRITTEN_APPROVAL, request, BOB, lead) == "engineering_lead"


def test_the_requester_anyone_and_rollbot() -> None:
    request = make_request(OLDER)
    assert check_act(Act.DECIDE, request, ALICE, frozenset()) == "requester"
    assert check_act(Act.CONFIRM_RECOVERY, request, BOB, frozenset()) == "anyone"
    with pytest.raises(ActRefusedError, match="rollbot cannot do it for a person"):
        check_act(Act.CONFIRM_RECOVERY, request, SYSTEM, frozenset())


def test_a_rule_without_a_request_knows_no_requester() -> None:
    rule = ActRule(requester=True, not_the_requester=False)
    with pytest.raises(ActRefusedError, match="is for the requester; you hold none"):
        check_rule(Act.DECLARE_TOP_SEVERITY, rule, ALICE, frozenset())


def test_rules_read_as_words() -> None:
    acts = default_acts()
    matrix = (Role.DBA, Role.ENGINEERING_LEAD)
    assert rule_text(acts[Act.WRITTEN_APPROVAL], matrix) == (
        "dba or engineering lead, not the requester or who declared the override"
    )
    assert rule_text(acts[Act.CONFIRM_RECOVERY], matrix) == "anyone"
    assert rule_text(acts[Act.CANCEL], matrix) == "incident commander or the requester"


def test_a_rule_must_name_someone_and_a_policy_keeps_every_act() -> None:
    with pytest.raises(ValidationError, match="names nobody"):
        ActRule(not_the_requester=True)
    policy = ApprovalPolicy.model_validate(
        {"acts": {"post_mortem": {"roles": ["engineering_lead"]}}}
    )
    assert set(policy.acts) == set(Act)
    assert policy.acts[Act.POST_MORTEM].roles == (Role.ENGINEERING_LEAD,)


def test_details_belong_to_the_incident_channel_and_role_holders() -> None:
    request = make_request(OLDER).model_copy(update={"origin_channel": "C0GENERAL"})
    assert sees_details(request, "C1", frozenset())  # its incident channel
    assert sees_details(request, "C0GENERAL", frozenset())  # where it was asked
    assert sees_details(request, "C0RANDOM", roles(Role.DBA))
    assert not sees_details(request, "C0RANDOM", frozenset())


def test_the_report_is_posted_only_where_the_policy_allows() -> None:
    anywhere = ReportingPolicy()
    check_report_channel(anywhere, "C0RANDOM", roles(Role.DBA))
    with pytest.raises(ActRefusedError, match="for people who hold a role"):
        check_report_channel(anywhere, "C0RANDOM", frozenset())
    only = ReportingPolicy(channels=("C0AUDIT",))
    check_report_channel(only, "C0AUDIT", frozenset())
    with pytest.raises(ActRefusedError, match="posted only in <#C0AUDIT>"):
        check_report_channel(only, "C0RANDOM", roles(Role.CTO))
