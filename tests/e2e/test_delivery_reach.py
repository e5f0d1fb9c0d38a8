"""Slack delivery in a workspace that behaves like a real one: channels rollbot was never invited
to, channels archived under it, a page the incidents channel refuses, a card a person deleted,
notices stuck in one channel while another needs its card now."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from bot.domain.notices import TimelineEntry
from bot.domain.policy import ApprovalPolicy, PagingPolicy
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import card, click, command, thread
from tests.helpers import audit_actions, stored

PEOPLE = ("U0ALICE", "U0BOB", "U0CAROL")
OPEN = 'deployment/api -n prod --reason "checkout errors"'


@pytest.fixture
def incidents(slack: SandboxSlack) -> str:
    return slack.state.add_channel("incidents")  # rollbot was never invited to it


@pytest.fixture
def policy(policy: ApprovalPolicy, incidents: str) -> ApprovalPolicy:
    return policy.model_copy(update={"paging": PagingPolicy(incidents_channel=incidents)})


def _dms(slack: SandboxSlack, user: str) -> list[str]:
    dm = slack.state.ims.get(user)
    if dm is None:
        return []
    return [str(m["blocks"][0]["text"]["text"]) for m in slack.state.history(dm)]


async def _waiting(runtime: Runtime) -> int:
    return await runtime.outbox.waiting_count()


async def _failed(runtime: Runtime) -> list[tuple[int, str, str]]:
    async with runtime.uow() as uow:
        return await uow.outbox.failed()


async def test_an_uninvited_public_channel_is_joined_before_the_request_opens(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack
) -> None:
    people_made = slack.state.add_channel("inc-checkout-outage", PEOPLE)  # rollbot not invited
    reply = await command(runtime, driver, people_made, "U0ALICE", OPEN)
    assert "opened" in reply
    assert slack.state.bot_user in slack.state.channels[people_made].members
    assert card(slack, people_made)["text"].startswith("Rollback RB-")
    assert "opened the request" in thread(slack, people_made)[0]
    assert await _waiting(runtime) == 0  # everything was delivered
    assert await _failed(runtime) == []


@pytest.mark.parametrize("how", ["private", "archived"])
async def test_a_channel_rollbot_cannot_post_in_is_refused_and_nothing_is_stored(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, how: str
) -> None:
    where = slack.state.add_channel("inc-checkout-outage", PEOPLE, private=how == "private")
    if how == "archived":
        slack.state.archive(where)
    reply = await command(runtime, driver, where, "U0ALICE", OPEN)
    if how == "private":
        assert reply == (
            ":no_entry_sign: I am not in #inc-checkout-outage and cannot join it: invite @rollbot to "
            "#inc-checkout-outage, or run /rollback in another channel so I open an incident "
            "channel. Nothing was stored."
        )
    else:
        assert reply.startswith(
            ":no_entry_sign: #inc-checkout-outage is archived: run /rollback in another"
        )
    assert "Traceback" not in reply
    counts = await stored(runtime)
    assert (counts.requests, counts.outbox) == (0, 0)
    assert await audit_actions(runtime) == []


async def test_a_channel_archived_under_a_request_stops_its_automatic_steps(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    executor: ScriptedExecutor,
) -> None:
    """The decision timeout would roll back in 30 minutes; once nobody can see the channel, it
    does not: the requester hears why by direct message, and nothing is retried into it."""
    await command(runtime, driver, channel, "U0ALICE", OPEN + " --severity P1")
    posted = len(slack.state.calls_of("chat.postMessage"))
    slack.state.archive(channel)
    async with runtime.uow() as uow:  # the next line the request's timeline gets
        [request] = await runtime.queries.list_open(channel)
        await uow.outbox.notify(
            request, TimelineEntry(action="progress", details={"line": "x"}), clock.now()
        )
    with capture_logs() as logs:
        await runtime.settle()
    assert await _waiting(runtime) == 0  # failed for good, not waiting
    failed = await _failed(runtime)
    assert {error for _, where, error in failed if where == channel} == {"is_archived"}
    # the on-call engineer's log says so too, with the request and the target
    [refused] = [e for e in logs if e["event"] == "delivery.failed" and e["channel"] == channel]
    assert (refused["request"], refused["error"]) == (request.id, "is_archived")
    assert refused["log_level"] == "error"
    # the word to the incidents channel is refused too (rollbot was never invited there)
    assert {error for _, where, error in failed if where != channel} == {"not_in_channel"}
    [dm] = _dms(slack, "U0ALICE")
    assert "Slack refused" in dm
    assert "archived" in dm
    assert "Nothing automatic happens" in dm
    clock.advance(minutes=31)
    assert await runtime.due.timeouts.tick() == 0
    await runtime.settle()
    [request] = await runtime.queries.list_open(channel)
    assert request.decision is None  # no automatic rollback in the dark
    assert executor.executions == []
    assert "decision.timeout_withheld" in await audit_actions(runtime)
    later = slack.state.calls_of("chat.postMessage")[posted:]
    # one refused call closed the channel's queue: nothing was retried into it
    assert [c.get("channel") for c in later].count(channel) == 1


async def test_150_notices_stuck_in_an_archived_channel_do_not_delay_a_new_card(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(runtime, driver, channel, "U0ALICE", OPEN)
    [request] = await runtime.queries.list_open(channel)
    slack.state.archive(channel)
    async with runtime.uow() as uow:  # 150 lines of a long rollout, waiting for that channel
        for i in range(150):
            line = TimelineEntry(action="progress", details={"line": f"step {i}"})
            await uow.outbox.notify(request, line, request.created_at)
    elsewhere = slack.state.add_channel("inc-20261127-web", PEOPLE)
    text = 'deployment/web -n prod --severity P1 --reason "web is down"'
    await command(runtime, driver, elsewhere, "U0ALICE", text)
    assert card(slack, elsewhere)["text"].startswith("Rollback RB-")
    assert await _waiting(runtime) == 0
    refused = [n for n in await _failed(runtime) if n[1] == channel]
    assert len(refused) == 150
    assert len(_dms(slack, "U0ALICE")) == 1  # one word to the requester, not 150


async def test_a_refused_p3_page_does_not_hold_back_the_incident_card(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, incidents: str
) -> None:
    await command(runtime, driver, channel, "U0ALICE", OPEN + " --severity P3")
    assert card(slack, channel)["text"].startswith("Rollback RB-")
    assert slack.state.history(incidents) == []
    [dm] = _dms(slack, "U0ALICE")
    assert "the page" in dm
    assert "not in the channel" in dm
    [request] = await runtime.queries.list_open(channel)
    async with runtime.uow() as uow:
        assert await uow.requests.channel_closed(request.id) is None  # its own channel is fine


async def test_a_deleted_card_is_posted_again(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(runtime, driver, channel, "U0ALICE", OPEN)
    first = card(slack, channel)
    slack.state.delete_message(channel, first["ts"])
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK, message=first)
    again = card(slack, channel)
    assert again["ts"] != first["ts"]
    assert any("chose to roll back" in line for line in thread(slack, channel))
    assert await _waiting(runtime) == 0
    assert await _failed(runtime) == []  # not retried into message_not_found, not refused


async def test_a_token_without_a_scope_is_refused_once_not_retried_forever(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    slack.state.scopes.discard("chat:write")  # an install that was granted less than asked for
    slack.state.invite_bot(channel)
    reply = await command(runtime, driver, channel, "U0ALICE", OPEN)
    assert "opened" in reply  # the answer goes through response_url, which needs no scope
    assert await _waiting(runtime) == 0
    failed = await _failed(runtime)
    assert {error for _, _, error in failed} == {"missing_scope"}
    # each notice was tried once and refused, none retried
    assert len(slack.state.calls_of("chat.postMessage")) == len(failed)
    metrics = runtime.metrics.render().decode()
    assert 'rollbot_outbox_failed_total{error="missing_scope"}' in metrics


async def test_an_auto_approved_rollback_does_not_run_where_nobody_can_see_it(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    executor: ScriptedExecutor,
) -> None:
    """alice is on call, so her last-version rollback needs no approver. A click that arrives
    after the channel was archived (and Slack refused the next message there) decides, but the
    rollback it would start automatically is withheld."""
    await command(runtime, driver, channel, "U0ALICE", OPEN)
    shown = card(slack, channel)
    slack.state.archive(channel)
    [request] = await runtime.queries.list_open(channel)
    async with runtime.uow() as uow:
        line = TimelineEntry(action="progress", details={"line": "x"})
        await uow.outbox.notify(request, line, clock.now())
    await runtime.settle()
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK, message=shown)
    assert executor.executions == []
    assert "execution.withheld" in await audit_actions(runtime)
