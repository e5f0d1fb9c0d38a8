"""Opening a request, called as a use case."""

from __future__ import annotations

import sqlite3

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import OperationalError

from bot.audit.keys import AuditSigner
from bot.domain import events as ev
from bot.domain.notices import NoticeKind
from bot.domain.policy import ApprovalPolicy
from bot.domain.request import RequestState
from bot.ports import AdapterError, UnknownTargetError
from bot.store.engine import create_engine
from bot.store.uow import UnitOfWorkFactory
from bot.usecases.opening import RollbackService
from integrations.slack.announce import SlackAnnouncer
from integrations.slack.channels import SlackChannelDirectory
from integrations.slack.delivery import client_for
from integrations.slack.roles import SlackRoleDirectory
from sandbox.slack.server import SandboxSlack
from tests.usecases.conftest import ALICE, World


async def test_opens_prompts_and_pages_in_one_commit(world: World, channel: str) -> None:
    result = await world.open(channel=channel, severity="P1")

    assert result.created
    request = await world.reload(result.request)
    assert request.state is RequestState.AWAITING_DECISION
    assert request.baseline_revision == "3"  # the live revision the preflight saw
    # one commit, handed on once, with the opening and the prompt's effects in order
    [committed] = world.committed
    actions = [e.action for _, e in committed.of_type(ev.AuditEffect)]
    assert actions == ["request.opened", "decision.prompted"]
    assert committed.of_type(ev.ScheduleDecisionTimeout)
    kinds = [n.kind for n in await world.pending()]
    assert kinds[:2] == [NoticeKind.REQUEST_OPENED, NoticeKind.PAGE]
    assert committed.notices_written == len(kinds)


async def test_the_same_command_twice_opens_one_request(world: World, channel: str) -> None:
    first = await world.open(channel=channel, key="same")
    again = await world.open(channel=channel, key="same")

    assert (first.created, again.created) == (True, False)
    assert again.request.id == first.request.id
    assert len(await world.queries.list_open(channel)) == 1
    assert len(world.committed) == 1  # the retry wrote nothing and woke nothing


async def test_outside_an_incident_channel_opens_one_and_invites(
    world: World, slack: SandboxSlack
) -> None:
    general = slack.state.add_channel("general", ("U0ALICE",))

    result = await world.open(channel=general, channel_name="general")

    incident = slack.state.channels[result.request.channel]
    assert incident.name.startswith("inc-")
    assert incident.name.endswith("-api")
    assert ALICE.id in incident.members
    assert result.request.origin_channel == general


async def test_a_target_nobody_can_roll_back_stores_nothing(world: World, channel: str) -> None:
    with pytest.raises(UnknownTargetError) as refused:
        await world.open("deployment/ghost", channel=channel)

    assert isinstance(refused.value, AdapterError)  # the outside world's answer, not a rule
    assert await world.queries.list_open(channel) == []
    assert await world.pending() == []
    assert world.committed == []


async def test_a_request_that_cannot_be_saved_says_so_in_the_channel_made_for_it(
    world: World, slack: SandboxSlack, policy: ApprovalPolicy
) -> None:
    """The incident channel is made before the request commits; if the commit then fails, the
    channel says why it is empty instead of leaving whoever finds it to guess."""
    path = world.uow.engine.url.database
    assert path is not None
    impatient = create_engine(f"sqlite+aiosqlite:///{path}", busy_timeout=0.2)
    uow = UnitOfWorkFactory(impatient, AuditSigner(Ed25519PrivateKey.generate(), every=5))
    client = client_for(slack.state.token, slack.api_url)
    world.opening = RollbackService(
        uow=uow,
        clock=world.clock,
        policy=policy,
        roles=SlackRoleDirectory(policy, client, world.clock),
        channels=SlackChannelDirectory(client),
        executors=dict.fromkeys(("deployment", "configmap"), world.executor),
        announcer=SlackAnnouncer(client),
    )
    general = slack.state.add_channel("general", ("U0ALICE",))
    lock = sqlite3.connect(path, timeout=5)
    lock.execute("BEGIN EXCLUSIVE")  # someone holds the database: reads pass, the write cannot
    try:
        with pytest.raises(OperationalError, match="locked"):
            await world.open(channel=general, channel_name="general")
    finally:
        lock.rollback()
        lock.close()
        await impatient.dispose()

    [made] = [c for c in slack.state.channels.values() if c.name.startswith("inc-")]
    [said] = [m["text"] for m in slack.state.history(made.id)]
    assert said.startswith(":warning: This channel was opened for a rollback request for ")
    assert "could not save the request, so nothing was rolled back" in said
    assert await world.queries.list_open(made.id) == []  # and nothing was stored
