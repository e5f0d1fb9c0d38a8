"""The incident-channel conversation, end to end through signed requests and the sandbox Slack."""

from __future__ import annotations

import asyncio
import copy

import pytest

from bot.audit.chain import CHECKPOINT_RULE
from bot.domain.request import RequestState, TargetRef
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import buttons, card, click, command, ephemerals, thread
from tests.e2e.workflow import summary as summary_of
from tests.helpers import answered, stored

P1_OLDER = 'deployment/api -n prod --to-revision 1 --severity P1 --reason "5xx at 38% since v1.3.0"'


async def _audit_actions(runtime: Runtime) -> list[str]:
    async with runtime.uow() as uow:
        return [e.action for e in await uow.audit.entries() if e.action != CHECKPOINT_RULE]


async def _only_request(runtime: Runtime, channel: str) -> RequestState:
    requests = await runtime.queries.history(card_target())
    assert len(requests) == 1
    return requests[0].state


def _evidence_sha(runtime: Runtime, executor: ScriptedExecutor) -> str:
    """The sha256 of the one evidence pack in the evidence directory, computed from its bytes."""
    import hashlib

    [pack] = list(runtime.settings.evidence_dir.glob("*/evidence-*.tar.gz"))
    return hashlib.sha256(pack.read_bytes()).hexdigest()


def card_target() -> TargetRef:
    return target_from("deployment/api", "prod")


async def test_happy_path_p1_rollback_with_approval(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    executor: ScriptedExecutor,
) -> None:
    ack = await command(runtime, driver, channel, "U0ALICE", P1_OLDER)
    assert "opened" in ack
    prompt = card(slack, channel)
    assert buttons(prompt) == [
        "Roll back",
        "Forward fix",
        "Emergency override",
        "Cancel request",
        "Customers notified",
    ]
    text = str(prompt["blocks"])
    assert "*Customers* must be notified by 09:30 UTC" in text
    assert "Recommendation: ROLLBACK" in text
    assert "Is the issue critical (P1)? → yes" in text
    assert "Automatic rollback at 09:30 UTC" in text

    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    approval_card = card(slack, channel)
    assert buttons(approval_card) == [
        "Approve",
        "Deny",
        "Emergency override",
        "Cancel request",
        "Customers notified",
    ]
    assert "needs engineering lead" in str(approval_card["blocks"])

    # the requester cannot approve their own request; the card does not change
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.APPROVE)
    assert (
        "you requested this rollback, so you cannot approve it; it needs: engineering lead"
        in ephemerals(slack, "U0ALICE")[-1]
    )
    # a DBA is not who this rollback needs
    await click(runtime, driver, slack, channel, "U0CAROL", ActionId.APPROVE)
    assert (
        "approval needs engineering lead; you hold none of those roles"
        in ephemerals(slack, "U0CAROL")[-1]
    )
    assert card(slack, channel)["blocks"] == approval_card["blocks"]

    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)

    # a P1: rolled back and checked, and open until a person confirms recovery
    assert await _only_request(runtime, channel) is RequestState.AWAITING_RECOVERY_CONFIRMATION
    assert executor.executions
    assert len(executor.executions) == 1
    assert executor.targets["deployment/api -n prod"].live == "1"
    final = card(slack, channel)
    assert buttons(final) == ["Customers notified", "Recovery confirmed"]
    assert "waiting for a person to confirm recovery" in final["text"]
    assert "not closed until a person confirms recovery" in str(final["blocks"])
    with pytest.raises(AssertionError, match="no summary"):  # the summary comes when it closes
        summary_of(slack, channel)
    assert ":white_check_mark: engineering lead: <@U0BOB>" in str(final["blocks"])
    assert ":eyes: Recovery watched until 09:30 UTC" in str(final["blocks"])

    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.CUSTOMERS_NOTIFIED)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CONFIRM_RECOVERY)
    confirmed = card(slack, channel)
    assert await _only_request(runtime, channel) is RequestState.COMPLETED
    assert buttons(confirmed) == []
    shown = str(confirmed["blocks"])
    assert "*Customers notified* by <@U0DAVE> at 09:00 UTC" in shown
    assert "user validation: confirmed by alice at 09:00 UTC" in shown
    timeline = thread(slack, channel)
    evidence_sha = _evidence_sha(runtime, executor)
    assert [line.split(" · ", 1)[1] for line in timeline] == [
        "<@U0ALICE> opened the request: 5xx at 38% since v1.3.0",
        "rollbot recommended rollback",
        "<@U0ALICE> chose to roll back",
        "<@U0BOB> approved as engineering lead",
        "rollbot started the rollback",
        "rolling `deployment/api -n prod` back from revision 3 to 1",
        "rollout complete: api:1.2.2 serving",
        "rollbot rolled back to revision 1",
        "rollbot recovery verified: health checks green, error rate back to baseline",
        f":package: Evidence pack stored, sha256 `{evidence_sha}`",
        "<@U0DAVE> recorded the customer notification: confirmed with the button on the card",
        "<@U0ALICE> confirmed the service works again (user validation)",
    ]
    summary = summary_of(slack, channel)
    assert "completed" in summary["text"]
    assert "revision 3 → 1" in str(summary["blocks"])
    assert f"Evidence pack sha256 `{evidence_sha}`" in str(summary["blocks"])
    assert await _audit_actions(runtime) == [
        "request.opened",
        "decision.prompted",
        "decision.rollback",
        "approval.given",
        "execution.started",
        "execution.change_sent",
        "execution.succeeded",
        "verification.passed",
        "evidence.packed",
        "obligation.met",
        "recovery.confirmed",
    ]


async def test_on_call_last_version_rollback_runs_without_waiting(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    executor: ScriptedExecutor,
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P1 --reason "down"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    assert await _only_request(runtime, channel) is RequestState.AWAITING_RECOVERY_CONFIRMATION
    assert "auto-approved: requested by the on-call engineer" in str(card(slack, channel)["blocks"])
    assert executor.targets["deployment/api -n prod"].live == "2"


async def test_double_click_and_outdated_card_make_one_transition(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    executor: ScriptedExecutor,
) -> None:
    await command(runtime, driver, channel, "U0ALICE", P1_OLDER)
    stale = copy.deepcopy(card(slack, channel))  # the card as a second browser tab still shows it
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    # a second click on the card as it was before the first one took effect
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK, message=stale)
    assert "has moved on" in ephemerals(slack, "U0ALICE")[-1]
    await click(
        runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_FORWARD_FIX, message=stale
    )
    assert "has moved on" in ephemerals(slack, "U0ALICE")[-1]
    assert await _audit_actions(runtime) == [
        "request.opened",
        "decision.prompted",
        "decision.rollback",
    ]
    assert executor.executions == []


async def test_many_simultaneous_approvals_execute_once(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    executor: ScriptedExecutor,
) -> None:
    await command(runtime, driver, channel, "U0ALICE", P1_OLDER)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    approval_card = card(slack, channel)
    clicks = [driver.click("U0BOB", channel, approval_card, ActionId.APPROVE) for _ in range(25)]
    replies = await asyncio.gather(*clicks)
    await runtime.settle()

    assert [r.status for r in replies] == [200] * 25
    assert len(executor.executions) == 1
    actions = await _audit_actions(runtime)
    assert actions.count("approval.given") == 1
    assert actions.count("execution.started") == 1
    moved_on = [t for t in ephemerals(slack, "U0BOB") if "has moved on" in t]
    assert len(moved_on) == 24
    assert await _only_request(runtime, channel) is RequestState.AWAITING_RECOVERY_CONFIRMATION


async def test_deny_asks_for_a_reason_and_ends_the_request(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    executor: ScriptedExecutor,
) -> None:
    await command(runtime, driver, channel, "U0ALICE", P1_OLDER)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)

    # someone without the role is told when they give their reason, and nothing changes
    await click(runtime, driver, slack, channel, "U0CAROL", ActionId.DENY)
    [carols] = slack.state.views
    why = {"reason": {"value": {"type": "plain_text_input", "value": "not sure"}}}
    said = await answered(runtime, driver, "U0CAROL", driver.submit_view("U0CAROL", carols, why))
    assert "only engineering lead may deny" in said
    assert await _only_request(runtime, channel) is RequestState.AWAITING_APPROVAL

    await click(runtime, driver, slack, channel, "U0BOB", ActionId.DENY)
    view_id = list(slack.state.views)[-1]
    empty = await driver.submit_view(
        "U0BOB", view_id, {"reason": {"value": {"type": "plain_text_input", "value": " "}}}
    )
    assert empty.json() == {
        "response_action": "errors",
        "errors": {"reason": "a denial needs a reason"},
    }
    reply = await driver.submit_view(
        "U0BOB",
        view_id,
        {"reason": {"value": {"type": "plain_text_input", "value": "backup not verified"}}},
    )
    assert reply.status == 200
    await runtime.settle()

    assert await _only_request(runtime, channel) is RequestState.DENIED
    assert executor.executions == []
    assert "denied by bob: backup not verified" in str(card(slack, channel)["blocks"])
    assert thread(slack, channel)[-1].endswith(
        "<@U0BOB> denied as engineering lead: backup not verified"
    )


async def test_emergency_override_by_incident_commander(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    executor: ScriptedExecutor,
) -> None:
    await command(runtime, driver, channel, "U0ALICE", P1_OLDER)
    await click(runtime, driver, slack, channel, "U0CAROL", ActionId.OVERRIDE)
    [refused_view] = slack.state.views
    now = {"reason": {"value": {"type": "plain_text_input", "value": "now"}}}
    refused = await answered(
        runtime, driver, "U0CAROL", driver.submit_view("U0CAROL", refused_view, now)
    )
    assert refused == (
        ":no_entry_sign: an emergency override is for incident commander; you hold none of "
        "those roles"
    )

    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.OVERRIDE)
    view_id = list(slack.state.views)[-1]
    reply = await driver.submit_view(
        "U0DAVE",
        view_id,
        {
            "reason": {
                "value": {"type": "plain_text_input", "value": "checkout down, no lead reachable"}
            }
        },
    )
    assert reply.status == 200
    await runtime.settle()

    assert await _only_request(runtime, channel) is RequestState.AWAITING_RECOVERY_CONFIRMATION
    assert len(executor.executions) == 1
    blocks = str(card(slack, channel)["blocks"])
    assert "Emergency override* by <@U0DAVE>" in blocks
    assert "Retroactive approval due 13:00 UTC" in blocks
    [request] = await runtime.queries.history(card_target())
    assert [o.kind.value for o in request.obligations] == [
        "decision_sla",
        "customer_notification",
        "retro_approval",
        "emergency_written_approval",
        "post_emergency_review",
        "post_mortem",
        "recovery_confirmation",  # a P1: a person confirms recovery before it closes
    ]


async def test_failed_rollback_stops_and_escalates(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    executor: ScriptedExecutor,
) -> None:
    executor.targets[
        "deployment/api -n prod"
    ].fail_with = "ProgressDeadlineExceeded: pods never became ready"
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P1 --reason "down"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)

    assert await _only_request(runtime, channel) is RequestState.FAILED
    assert len(executor.executions) == 1
    *timeline, evidence = thread(slack, channel)
    # a failed rollback is evidenced too: what was tried, and the state it left
    assert ":package: Evidence pack stored, sha256" in evidence
    assert timeline[-3].endswith(
        "rollbot rollback failed: ProgressDeadlineExceeded: pods never became ready"
    )
    assert "Escalation" in timeline[-2]
    assert "no automatic second try" in timeline[-1]
    assert "failed" in summary_of(slack, channel)["text"]
    assert (await _audit_actions(runtime))[-2:] == ["execution.failed", "evidence.packed"]


async def test_executor_crash_ends_the_request_visibly(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    executor: ScriptedExecutor,
) -> None:
    executor.targets["deployment/api -n prod"].crash_with = "connection reset by peer"
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P1 --reason "down"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    assert await _only_request(runtime, channel) is RequestState.FAILED
    shown = str(card(slack, channel)["blocks"])
    assert "rollbot hit an internal error (correlation id " in shown  # what to quote
    assert "RuntimeError" not in shown  # the details are in the log, not in Slack
    assert "connection reset by peer" not in shown


async def test_unknown_target_and_revision_store_nothing(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    missing = await command(
        runtime, driver, channel, "U0ALICE", 'deployment/nope -n prod --reason "x"'
    )
    assert "`deployment/nope -n prod` was not found" in missing
    no_rev = await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --to-revision 9 --reason "x"'
    )
    assert "has no revision 9" in no_rev
    assert (await stored(runtime)).requests == 0
    assert slack.state.history(channel) == []


async def test_approvals_lapse_when_the_target_moves(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    executor: ScriptedExecutor,
) -> None:
    await command(runtime, driver, channel, "U0ALICE", P1_OLDER)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    executor.targets["deployment/api -n prod"].live = "2"  # someone deployed by hand meanwhile
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    assert "the target moved to revision 2" in ephemerals(slack, "U0BOB")[-1]
    assert thread(slack, channel)[-1].endswith(
        "approvals lapsed: the target moved from revision 3 to 2"
    )
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    assert await _only_request(runtime, channel) is RequestState.AWAITING_RECOVERY_CONFIRMATION


async def test_roles_from_a_slack_user_group(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(
        runtime,
        driver,
        channel,
        "U0ALICE",
        'configmap/api-config -n prod --severity P2 --reason "bad flag"',
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    assert "approval needs devops lead" in ephemerals(slack, "U0BOB")[-1]
    await click(runtime, driver, slack, channel, "U0FRANK", ActionId.APPROVE)
    [request] = await runtime.queries.history(target_from("configmap/api-config", "prod"))
    assert request.state is RequestState.COMPLETED
    assert slack.state.calls_of("usergroups.users.list")


async def test_request_outside_an_incident_channel_opens_one(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack
) -> None:
    general = slack.state.add_channel("general", ("U0ALICE",))
    ack = await command(
        runtime, driver, general, "U0ALICE", 'deployment/api -n prod --severity P2 --reason "slow"'
    )
    incident = slack.state.channel_by_name("inc-20261127-api")
    assert incident is not None
    assert f"in <#{incident.id}>" in ack
    assert "U0ALICE" in incident.members
    assert f"asked in <#{general}>" in str(card(slack, incident.id)["blocks"])
    assert slack.state.history(general) == []
    # a second request for the same target that day reuses the channel and its incident
    await command(
        runtime, driver, general, "U0ALICE", 'deployment/api -n prod --severity P2 --reason "again"'
    )
    assert len([c for c in slack.state.channels.values() if c.name.startswith("inc-")]) == 1
    requests = await runtime.queries.history(card_target())
    assert len({r.incident_id for r in requests}) == 1


async def test_history_lists_past_requests(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P2 --reason "down"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    text = await command(runtime, driver, channel, "U0BOB", "history deployment/api -n prod")
    assert "Rollback history of `deployment/api -n prod`" in text
    assert "completed" in text
    assert "No rollback requests" in await command(
        runtime, driver, channel, "U0BOB", "history deployment/web -n prod"
    )
