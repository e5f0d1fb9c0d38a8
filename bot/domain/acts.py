"""Who may perform an act on a request: one rule per act, from the policy the request opened
under. A refusal names the rule; an accepted act says which part of the rule it was done under,
for the audit log."""

from __future__ import annotations

from bot.domain import approvals as ap
from bot.domain.errors import ApprovalRefusedError
from bot.domain.people import SYSTEM, Person
from bot.domain.policy import Act, ActRule, ReportingPolicy, Role
from bot.domain.request import RollbackRequest

ACT_NAMES = {
    Act.DECIDE: "the rollback-or-fix decision",
    Act.CANCEL: "cancelling the request",
    Act.DECLARE_OVERRIDE: "an emergency override",
    Act.APPROVE_RETROACTIVELY: "a retroactive approval",
    Act.WRITTEN_APPROVAL: "the written approval of the emergency change",
    Act.POST_EMERGENCY_REVIEW: "the post-emergency review",
    Act.POST_MORTEM: "the post-mortem",
    Act.CUSTOMER_NOTIFICATION: "the customer notification",
    Act.CONFIRM_RECOVERY: "confirming recovery",
    Act.DECLARE_TOP_SEVERITY: "declaring the top severity",
}


class ActRefusedError(ApprovalRefusedError):
    """The person may not perform this act; the message states the rule."""

    def __init__(self, message: str, act: Act | None = None) -> None:
        super().__init__(message)
        self.act = act  # None: a rule about where, not about an act (the monthly report)


def rule_text(rule: ActRule, matrix: tuple[Role, ...]) -> str:
    """The rule in words: "engineering lead or governance lead, not who declared the override"."""
    if rule.anyone:
        who = ["anyone"]
    else:
        roles = (*rule.roles, *(matrix if rule.matrix_roles else ()))
        who = [r.value.replace("_", " ") for r in dict.fromkeys(roles)]
        who += ["the requester"] if rule.requester else []
    text = " or ".join(who)
    unless = [
        *(["the requester"] if rule.not_the_requester else []),
        *(["who declared the override"] if rule.not_the_overrider else []),
    ]
    return text + (f", not {' or '.join(unless)}" if unless else "")


def check_act(act: Act, request: RollbackRequest, by: Person, roles: frozenset[Role]) -> str:
    """The part of the rule `by` acts under (a role, "requester" or "anyone"); raises
    ActRefusedError stating the rule when the act is not theirs."""
    return check_rule(
        act,
        request.rules.acts[act],
        by,
        roles,
        requester=request.requester,
        overrider=request.override.by if request.override else None,
        matrix=ap.matrix_roles(request.rules.row),
    )


def check_rule(
    act: Act,
    rule: ActRule,
    by: Person,
    roles: frozenset[Role],
    *,
    requester: Person | None = None,
    overrider: Person | None = None,
    matrix: tuple[Role, ...] = (),
) -> str:
    """check_act for an act with no request yet (declaring a severity as a request opens)."""
    said = f"{ACT_NAMES[act]} is for {rule_text(rule, matrix)}"
    if by.id == SYSTEM.id:
        raise ActRefusedError(f"{said}; rollbot cannot do it for a person", act)
    if rule.not_the_requester and requester is not None and by.id == requester.id:
        raise ActRefusedError(f"{said}; you requested this rollback", act)
    if rule.not_the_overrider and overrider is not None and by.id == overrider.id:
        raise ActRefusedError(f"{said}; you declared the override", act)
    allowed = (*rule.roles, *(matrix if rule.matrix_roles else ()))
    held = next((r for r in allowed if r in roles), None)
    if held is not None:
        return held.value
    if rule.requester and requester is not None and by.id == requester.id:
        return "requester"
    if rule.anyone:
        return "anyone"
    raise ActRefusedError(f"{said}; you hold none of those roles", act)


def sees_details(request: RollbackRequest, channel: str, roles: frozenset[Role]) -> bool:
    """Who requested it, why, who denied it and what it changes are for the request's incident
    channel (and the channel it was asked from) and for people who hold a role in the policy;
    anyone else learns only its id, its state and where it lives."""
    return channel in (request.channel, request.origin_channel) or bool(roles)


def check_report_channel(reporting: ReportingPolicy, channel: str, roles: frozenset[Role]) -> None:
    """The monthly report names requesters and outcomes: posted only where the policy allows."""
    if reporting.channels:
        if channel not in reporting.channels:
            allowed = ", ".join(f"<#{c}>" for c in reporting.channels)
            raise ActRefusedError(f"the monthly report is posted only in {allowed}")
    elif not roles:
        raise ActRefusedError(
            "the monthly report is for people who hold a role in the rollback policy"
        )
