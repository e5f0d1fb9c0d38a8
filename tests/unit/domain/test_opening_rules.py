"""Which earlier rollbacks make a plan a re-deploy of what was rolled back from."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import events as ev
from bot.domain.opening import rolled_back_from
from bot.domain.policy import RollbackType
from bot.domain.request import add_obligation
from tests.unit.domain.factories import T0, make_request

WEEK = timedelta(days=7)


def _executed_from(identity: str | None, hours_ago: float = 1):
    request = make_request(RollbackType.DEPLOYMENT_LAST_VERSION)
    obligations, _ = add_obligation(request, ev.ObligationKind.POST_MORTEM, T0)
    return request.model_copy(
        update={
            "baseline_identity": identity,
            "obligations": obligations,
            "updated_at": T0 - timedelta(hours=hours_ago),
        }
    )


def test_a_plan_back_into_what_was_rolled_back_from_is_named() -> None:
    earlier = [_executed_from("api:1.4.0")]
    why = rolled_back_from(earlier, "api:1.4.0", T0, WEEK)
    assert why is not None
    assert why.startswith("this re-deploys api:1.4.0, which RB-")


def test_nothing_is_named_when_it_cannot_be_told_or_does_not_apply() -> None:
    never_ran = make_request(RollbackType.DEPLOYMENT_LAST_VERSION).model_copy(
        update={"baseline_identity": "api:1.4.0"}
    )
    assert rolled_back_from([_executed_from("api:1.4.0")], None, T0, WEEK) is None
    assert rolled_back_from([_executed_from("api:1.3.0")], "api:1.4.0", T0, WEEK) is None
    assert rolled_back_from([_executed_from("api:1.4.0", 24 * 8)], "api:1.4.0", T0, WEEK) is None
    assert rolled_back_from([never_ran], "api:1.4.0", T0, WEEK) is None


def test_escalations_name_the_roles_people_once() -> None:
    from bot.domain.notices import Mentions, escalation_for, mentions_for
    from bot.domain.policy import ApprovalPolicy, Role, RoleSource

    policy = ApprovalPolicy(
        roles={
            Role.ENGINEERING_LEAD: RoleSource(users=("U0BOB",), usergroup="S0LEADS"),
            Role.ON_CALL: RoleSource(users=("U0ALICE", "U0BOB")),
        }
    )
    roles = (Role.ENGINEERING_LEAD, Role.ON_CALL, Role.CTO)  # nobody holds CTO here
    assert mentions_for(policy, roles) == Mentions(users=("U0BOB", "U0ALICE"), groups=("S0LEADS",))
    escalation, directly = escalation_for("rollout stuck", roles[:2], policy)
    assert escalation.roles == "engineering lead and on call"
    assert directly == ("U0BOB", "U0ALICE")
    assert mentions_for(ApprovalPolicy(roles={}), roles).empty
