"""The /rollback form, Block Kit validity of everything rollbot renders, cancel, and a 429 storm."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.domain import events as ev
from bot.domain.decision import DecisionInputs, decide_rollback_or_fix
from bot.domain.people import Person
from bot.domain.policy import Role, RollbackType
from bot.domain.request import RequestState, TargetRef
from bot.domain.severity import Severity
from bot.domain.targets import target_from
from bot.domain.transitions import apply
from handlers.blockkit import cards as blocks
from handlers.blockkit import forms, notices
from handlers.slack.ids import ActionId, CallbackId, CardAction, FormOrigin
from rollbot.bootstrap.runtime import Runtime
from sandbox.slack.blockkit import block_problems
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import card, click, command, thread
from tests.e2e.workflow import form_text as _text
from tests.e2e.workflow import form_values as _form
from tests.helpers import answered, inbox_rows, stored
from tests.unit.domain.factories import ALICE, BOB, CAROL, DAVE, ERIN, make_request, roles


async def test_rollback_alone_opens_the_form_and_submitting_it_opens_a_request(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    reply = await driver.command("U0ALICE", channel, "")
    assert reply.status == 200
    [view_id] = slack.state.views
    view = slack.state.views[view_id]
    assert view["callback_id"] == CallbackId.OPEN_FORM
    assert block_problems(view["blocks"], modal=True) == []

    # The form's own checks are answered on the field, and nothing is stored.
    bad_rate = await driver.submit_view("U0ALICE", view_id, _form(error_rate=_text("lots")))
    assert bad_rate.json()["errors"] == {"error_rate": "`lots` is not a number"}
    assert await inbox_rows(runtime) == 0
    # Whether the target exists is the cluster's answer: the form closes, and the worker tells
    # the person by direct message.
    said = await answered(
        runtime,
        driver,
        "U0ALICE",
        driver.submit_view("U0ALICE", view_id, _form(target_name=_text("nope"))),
    )
    assert said == (
        ":no_entry_sign: `deployment/nope -n prod` was not found; check the kind, name and "
        "namespace"
    )
    assert (await stored(runtime)).requests == 0

    await driver.command("U0ALICE", channel, "")  # that form closed: a new one
    view_id = list(slack.state.views)[-1]
    ok = await driver.submit_view("U0ALICE", view_id, _form())
    assert ok.status == 200
    again = await driver.submit_view("U0ALICE", view_id, _form())  # Slack retrying the submission
    assert again.status == 200
    await runtime.settle()
    [request] = await runtime.queries.list_open(channel)
    assert (await stored(runtime)).requests == 1
    # 12 % of requests failing is above the 5 % trigger: P2, computed from the answers
    assert request.assessment.severity is Severity.P2
    assert "12% of requests failing" in request.assessment.reason
    assert request.ticket == "https://tickets.example/INC-7"
    assert "Recommendation: ROLLBACK" in str(card(slack, channel)["blocks"])


async def test_override_in_the_form_needs_the_incident_commander(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await driver.command("U0ALICE", channel, "")
    view_id = list(slack.state.views)[-1]
    p1 = {"value": {"type": "static_select", "selected_option": {"value": "P1"}}}
    refused = await answered(
        runtime,
        driver,
        "U0ALICE",
        driver.submit_view("U0ALICE", view_id, _form(severity=p1, override=_text("no time"))),
    )
    assert refused == (
        ":no_entry_sign: an emergency override is for incident commander; you hold none of "
        "those roles"
    )
    assert (await stored(runtime)).requests == 0

    await driver.command("U0DAVE", channel, "")
    view_id = list(slack.state.views)[-1]
    accepted = await driver.submit_view(
        "U0DAVE", view_id, _form(severity=p1, override=_text("orders failing"))
    )
    assert accepted.status == 200
    await runtime.settle()
    [request] = await runtime.queries.history(request_target())
    assert request.state is RequestState.AWAITING_RECOVERY_CONFIRMATION  # rolled back (P1)
    assert request.override is not None
    assert request.override.by.id == "U0DAVE"


def request_target() -> TargetRef:
    return target_from("deployment/api", "prod")


async def test_cancel_by_the_requester(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P2 --reason "slow"'
    )
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.CANCEL)
    view_id = list(slack.state.views)[-1]
    refused = await answered(
        runtime, driver, "U0BOB", driver.submit_view("U0BOB", view_id, {"reason": _text("dup")})
    )
    assert "cancelling the request is for incident commander or the requester" in refused
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CANCEL)
    view_id = list(slack.state.views)[-1]
    await driver.submit_view("U0ALICE", view_id, {"reason": _text("false alarm")})
    await runtime.settle()
    assert thread(slack, channel)[-1].endswith("<@U0ALICE> cancelled the request: false alarm")
    assert (await runtime.queries.list_open(channel)) == []


def _every_state() -> list[Any]:
    """A request in every state the bot can render, with approvals, overrides and outcomes."""
    reco = decide_rollback_or_fix(DecisionInputs(severity=Severity.P1))
    t = make_request().created_at
    seen: dict[str, Any] = {}

    def walk(request: Any, events: list[ev.Event]) -> None:
        for i, event in enumerate(events):
            request, _ = apply(request, event, t + timedelta(minutes=i + 1))
            seen[f"{request.state.value}-{len(seen)}"] = request

    base = make_request(RollbackType.DATABASE)
    walk(
        base,
        [
            ev.PromptDecision(recommendation=reco),
            ev.ChooseRollback(by=ALICE),
            ev.Approve(by=CAROL, roles=roles(Role.DBA)),
            ev.Approve(by=BOB, roles=roles(Role.ENGINEERING_LEAD)),
            ev.StartExecution(),
            ev.ExecutionSucceeded(to_revision="6"),
            ev.VerificationPassed(),
        ],
    )
    walk(
        base,
        [
            ev.PromptDecision(recommendation=reco),
            ev.DeclareEmergencyOverride(
                by=DAVE, roles=roles(Role.INCIDENT_COMMANDER), reason="<!here> down"
            ),
            ev.Approve(by=ERIN, roles=roles(Role.CTO)),
            ev.StartExecution(),
            ev.ExecutionFailed(reason="x" * 2900),
        ],
    )
    walk(base, [ev.ChooseForwardFix(by=ALICE)])
    walk(base, [ev.ChooseRollback(by=ALICE), ev.Deny(by=BOB, roles=roles(Role.DBA), reason="no")])
    walk(base, [ev.Cancel(by=ALICE, roles=frozenset(), reason="dup")])
    walk(
        make_request(
            RollbackType.DEPLOYMENT_LAST_VERSION,
            requester_roles=roles(Role.ON_CALL),
            auto_rollback=False,
        ),
        [ev.PromptDecision(recommendation=reco), ev.ChooseRollback(by=ALICE)],
    )
    long_reason = make_request().model_copy(
        update={
            "reason": "r" * 1000,
            "ticket": "https://t/" + "x" * 400,
            "origin_channel": "C0GENERAL",
        }
    )
    seen["long"] = long_reason
    return list(seen.values())


@pytest.mark.parametrize("request_", _every_state(), ids=lambda r: r.state.value)
def test_every_card_and_message_is_valid_block_kit(request_: Any) -> None:
    message = blocks.request_card(request_)
    assert block_problems(message["blocks"]) == []
    assert block_problems(notices.summary_message(request_)["blocks"]) == []
    assert "<!here>" not in str(message)


def test_every_modal_is_valid_block_kit() -> None:
    card_action = CardAction(request_id="RB-ABCDEF", version=3)
    modals = [forms.open_form(FormOrigin(channel_id="C1", channel_name="general"))]
    modals += [
        blocks.reason_modal(c, card_action, "Title", "Prompt")
        for c in CallbackId
        if c != CallbackId.OPEN_FORM
    ]
    for modal in modals:
        assert block_problems(modal["blocks"], modal=True) == []
        assert len(modal["title"]["text"]) <= 24


async def test_a_429_storm_delays_the_timeline_but_keeps_all_of_it_in_order(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    slack.state.fail_next("chat.postMessage", status=429, retry_after=2, times=40)
    await driver.command(
        "U0ALICE", channel, 'deployment/api -n prod --to-revision 1 --severity P1 --reason "down"'
    )
    rounds = 0
    while slack.state.faults or await runtime.outbox.waiting_count():
        await runtime.settle()
        clock.advance(seconds=3)
        rounds += 1
        assert rounds < 100
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    slack.state.fail_next("chat.postMessage", status=429, retry_after=2, times=30)
    slack.state.fail_next("chat.update", status=429, retry_after=2, times=10)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    while slack.state.faults or await runtime.outbox.waiting_count():
        clock.advance(seconds=3)
        await runtime.settle()
        rounds += 1
        assert rounds < 200
    timeline = [line.split(" · ", 1)[1] for line in thread(slack, channel)]
    assert timeline[0].startswith("<@U0ALICE> opened the request")
    assert timeline[-2].startswith("rollbot recovery verified")
    assert timeline[-1].startswith(":package: Evidence pack stored, sha256")
    assert len(timeline) == 10
    async with runtime.uow() as uow:
        assert await uow.outbox.pending(10) == []
    assert Person(id="U0BOB").id in str(card(slack, channel)["blocks"])
