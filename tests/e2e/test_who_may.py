"""Who may do what, through signed Slack requests: every act that changes a request or meets an
obligation has its rule in the policy; a refusal is answered privately with the rule, leaves the
obligation open and stores nothing; an accepted act is audited with the role it was done under."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

from bot.domain.events import ObligationKind
from bot.domain.policy import Act, ActRule, ApprovalPolicy, Role, RollbackType
from bot.domain.request import RollbackRequest
from bot.domain.targets import target_from
from bot.usecases.audit_export import verify_database
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.slack.driver import SlackDriver, command_fields
from sandbox.slack.server import SandboxSlack
from tests.conftest import SIGNING_SECRET, FakeClock
from tests.e2e.workflow import click, command, ephemerals
from tests.helpers import NOTHING, another_replica, stored

API = target_from("deployment/api", "prod")
K = ObligationKind


@contextlib.asynccontextmanager
async def _rollbot_with(
    runtime: Runtime,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
    slack: SandboxSlack,
    **settings: object,
) -> AsyncIterator[tuple[Runtime, SlackDriver]]:
    """Another rollbot on the same database, with its own policy or settings, served over
    HTTP, and a driver that sends it signed Slack requests."""
    other = await another_replica(runtime, clock, policy, executor, **settings)
    try:
        url = await other.serve_http()
        async with SlackDriver(url, SIGNING_SECRET, slack.state) as drv:
            yield other, drv
    finally:
        await other.close()


async def _overridden(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> RollbackRequest:
    """A P1 older-version rollback the incident commander (dave) pushed through by override."""
    text = 'deployment/api -n prod --to-revision 1 --severity P1 --reason "down"'
    await command(runtime, driver, channel, "U0ALICE", text)
    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.OVERRIDE)
    view_id = list(slack.state.views)[-1]
    await driver.submit_view(
        "U0DAVE", view_id, {"reason": {"value": {"type": "plain_text_input", "value": "no lead"}}}
    )
    await runtime.settle()
    [request] = await runtime.queries.history(API)
    assert request.override is not None
    return request


async def _audit_of(runtime: Runtime, request_id: str) -> list[dict[str, object]]:
    async with runtime.uow() as uow:
        return [json.loads(r.body) for r in await uow.audit.for_request(request_id)]


async def test_the_overrider_cannot_certify_his_own_emergency_change_nor_a_guest_review_it(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    request = await _overridden(runtime, driver, slack, channel)
    random = slack.state.add_channel("random", ("U0GUEST",))
    slack.state.add_user("U0GUEST", "guest")
    before = await stored(runtime)

    own = await command(
        runtime, driver, channel, "U0DAVE", f"written-approval {request.id} https://cab.example/1"
    )
    assert own == (
        ":no_entry_sign: the written approval of the emergency change is for engineering lead, "
        "not the requester or who declared the override; you declared the override"
    )
    guest = await command(
        runtime, driver, random, "U0GUEST", f"review {request.id} https://wiki.example/review"
    )
    assert guest == (
        ":no_entry_sign: the post-emergency review is for engineering lead or governance lead; "
        "you hold none of those roles"
    )
    assert await stored(runtime) == before  # nothing written: no audit entry, no notice
    [request] = await runtime.queries.history(API)
    for kind in (K.EMERGENCY_WRITTEN_APPROVAL, K.POST_EMERGENCY_REVIEW):
        owed = request.obligation(kind)
        assert owed is not None
        assert owed.met_at is None  # still open

    clock.advance(hours=25)  # the written approval (24 h) is overdue: the reminder still fires
    assert await runtime.reminders.tick() >= 1
    await runtime.settle()
    assert any(
        "emergency written approval" in str(m.get("text", "")) for m in slack.state.history(channel)
    )

    # the engineering lead may, and the audit says in which role
    done = await command(
        runtime, driver, channel, "U0BOB", f"written-approval {request.id} https://cab.example/1"
    )
    assert done == f"Recorded emergency written approval for {request.id}."
    [met] = [e for e in await _audit_of(runtime, request.id) if e["action"] == "obligation.met"]
    payload = met["payload"]
    assert isinstance(payload, dict)
    assert (payload["kind"], payload["evidence"], payload["role"]) == (
        "emergency_written_approval",
        "https://cab.example/1",
        "engineering_lead",
    )
    assert (await verify_database(runtime.engine, runtime.uow.signer.public_key)).ok


async def test_customers_notified_is_for_the_incident_commander_not_anyone(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P1 --reason "x"'
    )
    await click(runtime, driver, slack, channel, "U0CAROL", ActionId.CUSTOMERS_NOTIFIED)
    assert ephemerals(slack, "U0CAROL")[-1] == (
        ":no_entry_sign: the customer notification is for incident commander or customer "
        "success; you hold none of those roles"
    )
    [request] = await runtime.queries.history(API)
    owed = request.obligation(K.CUSTOMER_NOTIFICATION)
    assert owed is not None
    assert owed.met_at is None
    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.CUSTOMERS_NOTIFIED)
    [request] = await runtime.queries.history(API)
    met = request.obligation(K.CUSTOMER_NOTIFICATION)
    assert met is not None
    assert met.met_by is not None
    assert met.met_by.id == "U0DAVE"


async def test_who_may_declare_the_top_severity_is_a_policy_rule(
    runtime: Runtime,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    only_responders = ActRule(roles=(Role.ON_CALL, Role.INCIDENT_COMMANDER))
    strict = policy.model_copy(
        update={"acts": {**policy.acts, Act.DECLARE_TOP_SEVERITY: only_responders}}
    )
    async with _rollbot_with(runtime, clock, strict, executor, slack) as (other, drv):
        text = 'deployment/api -n prod --severity P1 --reason "down"'
        refused = await command(other, drv, channel, "U0CAROL", text)
        assert refused == (
            ":no_entry_sign: declaring the top severity is for on call or incident "
            "commander; you hold none of those roles"
        )
        assert await stored(other) == NOTHING
        opened = await command(other, drv, channel, "U0ALICE", text)
        assert "opened" in opened


async def test_a_guest_elsewhere_sees_only_the_id_state_and_channel(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P2 --reason "x"'
    )
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.CHOOSE_FORWARD_FIX)
    [request] = await runtime.queries.history(API)
    slack.state.add_user("U0GUEST", "guest")
    random = slack.state.add_channel("random", ("U0GUEST", "U0CAROL"))
    outline = f"• *{request.id}* — :hammer_and_wrench: forward fix chosen · details in <#{channel}>"

    history = await command(runtime, driver, random, "U0GUEST", "history deployment/api -n prod")
    assert history == f"*Rollback history of `deployment/api -n prod`*\n{outline}"
    status = await command(runtime, driver, random, "U0GUEST", f"status {request.id}")
    assert status == outline
    assert "alice" not in history + status
    assert "U0ALICE" not in history + status
    # in the incident channel, or for someone holding a role (carol is a DBA), the details
    for where, who in ((channel, "U0GUEST"), (random, "U0CAROL")):
        full = await command(runtime, driver, where, who, f"status {request.id}")
        assert "requested by <@U0ALICE>" in full
    refused = await command(runtime, driver, random, "U0GUEST", "report")
    assert refused == (
        ":no_entry_sign: the monthly report is for people who hold a role in the rollback policy"
    )
    assert not [m for m in slack.state.history(random) if "report" in str(m.get("text", ""))]


async def test_a_group_role_goes_stale_while_slack_cannot_be_asked(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    """frank is DevOps lead through the S0DEVOPS user group. While Slack answers the group
    lookup with 429, his last known membership counts for roles.max_age (10 min);
    past that his approval is refused, saying why, and nothing is recorded."""
    text = 'configmap/api-config -n prod --severity P2 --reason "bad flag"'
    await command(runtime, driver, channel, "U0ALICE", text)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    assert slack.state.calls_of("usergroups.users.list")  # read once, while Slack answered
    slack.state.fail_next("usergroups.users.list", times=1000)  # HTTP 429, Retry-After
    clock.advance(minutes=11)
    before = await stored(runtime)
    await click(runtime, driver, slack, channel, "U0FRANK", ActionId.APPROVE)
    assert ephemerals(slack, "U0FRANK")[-1] == (
        ":no_entry_sign: your role comes from Slack user group S0DEVOPS, which Slack has not "
        "answered for 11 min (ratelimited); past the policy's roles.max_age rollbot does not act "
        "on it. Try again when Slack answers, or ask someone whose role the policy gives by "
        "user id"
    )
    assert await stored(runtime) == before
    [request] = await runtime.queries.history(target_from("configmap/api-config", "prod"))
    assert request.approvals == ()
    slack.state.faults.clear()  # Slack answers again
    await click(runtime, driver, slack, channel, "U0FRANK", ActionId.APPROVE)
    [request] = await runtime.queries.history(target_from("configmap/api-config", "prod"))
    assert [a.by.id for a in request.approvals] == ["U0FRANK"]


async def test_a_request_signed_right_but_for_another_workspace_or_app_is_refused(
    runtime: Runtime,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    ours_only = _rollbot_with(runtime, clock, policy, executor, slack, slack_app_id="A0ROLLBOT")
    async with ours_only as (other, drv):
        text = 'deployment/api -n prod --reason "down"'
        fields = command_fields(slack.state, "U0ALICE", channel, text)
        for changed, why in (
            ({"team_id": "T0ELSEWHERE"}, "team_id T0ELSEWHERE is not this workspace"),
            ({"api_app_id": "A0OTHERAPP"}, "api_app_id A0OTHERAPP is not this app"),
        ):
            reply = await drv.post(urlencode({**fields, **changed}).encode())
            assert reply.status == 401
            assert reply.json() == {"error": why}
        assert await stored(other) == NOTHING
        assert slack.state.calls_of("auth.test")  # learned from Slack, not configured
        ours = await drv.post(urlencode(fields).encode())
        assert ours.status == 200
        await other.settle()
        assert (await stored(other)).requests == 1


async def test_a_role_the_policy_defines_is_used_in_the_matrix(
    runtime: Runtime,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
) -> None:
    """`sre_lead` is no runbook role: the policy defines it (erin holds it) and the matrix asks
    for it on older-version deployment rollbacks."""
    sre_lead = Role("sre_lead")
    custom = ApprovalPolicy.model_validate(
        {
            "roles": {
                **{r: s.model_dump() for r, s in policy.roles.items()},
                "sre_lead": {"users": ["U0ERIN"]},
            },
            "approval_matrix": {"deployment_older_version": {"requires": ["sre_lead"]}},
        }
    )
    assert custom.row(RollbackType.DEPLOYMENT_OLDER_VERSION).requires == (sre_lead,)
    async with _rollbot_with(runtime, clock, custom, executor, slack) as (other, drv):
        text = 'deployment/api -n prod --to-revision 1 --severity P2 --reason "x"'
        await command(other, drv, channel, "U0ALICE", text)
        await click(other, drv, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
        await click(other, drv, slack, channel, "U0BOB", ActionId.APPROVE)
        assert "approval needs sre lead" in ephemerals(slack, "U0BOB")[-1]
        await click(other, drv, slack, channel, "U0ERIN", ActionId.APPROVE)
        [request] = await other.queries.history(API)
        assert request.state.value == "completed"
        assert [(a.by.id, a.role) for a in request.approvals] == [("U0ERIN", sre_lead)]
