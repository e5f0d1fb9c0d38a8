"""/rollback through the real HTTP server with signed requests, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode

import pytest

from bot.domain.request import RequestState
from rollbot.bootstrap.runtime import Runtime
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import command, ephemerals
from tests.helpers import NOTHING, Stored, inbox_rows, stored

OPEN = 'deployment/api -n prod --severity P1 --reason "5xx at 38% since v1.3.0"'


async def test_signed_command_stores_request_and_posts_card(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    reply = await driver.command("U0ALICE", channel, OPEN)

    # The answer is the receipt: the command is stored, nothing else has happened yet.
    assert reply.status == 200
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    assert "Opening a rollback request for `deployment/api -n prod`" in body["text"]
    assert await stored(runtime) == NOTHING
    assert await inbox_rows(runtime) == 1

    assert await runtime.workers.slack.drain() == 1
    [told] = ephemerals(slack, "U0ALICE")
    assert "opened for `deployment/api -n prod`" in told
    assert await stored(runtime) == Stored(requests=1, audit=2, outbox=4)
    request = (await runtime.queries.list_open(channel))[0]
    assert request.state is RequestState.AWAITING_DECISION
    assert request.requester.id == "U0ALICE"
    assert request.target.namespace == "prod"

    assert await runtime.delivery.drain() == 4  # card, page, two timeline replies
    card, page = slack.state.history(channel)
    assert page["text"] == f"P1 {request.id}: VP Engineering"
    assert card["blocks"][0]["text"]["text"] == f"Rollback {request.id} · deployment/api -n prod"
    assert "5xx at 38% since v1.3.0" in str(card["blocks"])
    async with runtime.uow() as uow:
        assert await uow.requests.card(request.id) == (channel, card["ts"])


async def test_slack_retry_of_the_same_command_makes_one_request(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    body = driver.command_body("U0ALICE", channel, OPEN)
    first = await driver.post(body)
    retried = await driver.post(body, retry_num=1)
    retried_again = await driver.post(body, retry_num=2)

    assert [first.status, retried.status, retried_again.status] == [200, 200, 200]
    assert first.json() == retried.json() == retried_again.json()  # answered the same way
    assert await inbox_rows(runtime) == 1  # stored once
    assert await runtime.workers.slack.drain() == 1  # processed once
    [told] = ephemerals(slack, "U0ALICE")
    assert await stored(runtime) == Stored(requests=1, audit=2, outbox=4)
    await runtime.delivery.drain()
    assert [m["text"].split(":")[0] for m in slack.state.history(channel)] == [
        f"Rollback {told.split()[2]}",
        f"P1 {told.split()[2]}",
    ]


def _tamper(body: bytes) -> bytes:
    fields = dict(parse_qsl(body.decode()))
    fields["text"] = fields["text"].replace("prod", "staging")
    return urlencode(fields).encode()


@pytest.mark.parametrize(
    "case",
    [
        "forged signature",
        "wrong secret",
        "stale timestamp",
        "no headers",
        "body altered after signing",
    ],
)
async def test_bad_signatures_get_401_and_store_nothing(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, case: str
) -> None:
    body = driver.command_body("U0ALICE", channel, OPEN)
    headers = driver.signed_headers(body)
    sent = body
    if case == "forged signature":
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
    elif case == "wrong secret":
        headers = driver.signed_headers(body, secret="not-the-secret")
    elif case == "stale timestamp":
        headers = driver.signed_headers(body, timestamp=int(time.time()) - 6 * 60)
    elif case == "no headers":
        headers = {}
    else:
        sent = _tamper(body)

    reply = await driver.post(sent, headers=headers)

    assert reply.status == 401
    assert await stored(runtime) == NOTHING
    assert await runtime.delivery.drain() == 0
    assert slack.state.history(channel) == []


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("frobnicate", "unknown subcommand `frobnicate`"),
        ("deployment/api -n prod", "say why"),
        ("deployment/api --to-revision latest --reason x", "--to-revision takes a revision number"),
        ("deployment/api --colour red --reason x", "unknown option `--colour`"),
        ("statefulset/db --reason x", "unknown target `statefulset/db`"),
        ('deployment/api --reason "unclosed', "check your quotes"),
        ("deployment/api --severity P9 --reason x", "unknown severity 'P9'"),
        ("deployment/api --reason " + "x" * 1001, "keep it under 1000"),
    ],
)
async def test_malformed_commands_answer_usage_and_store_nothing(
    runtime: Runtime, driver: SlackDriver, channel: str, text: str, says: str
) -> None:
    reply = await driver.command("U0ALICE", channel, text)

    assert reply.status == 200
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    assert says in body["text"]
    assert "*Usage*" in body["text"]
    assert await stored(runtime) == NOTHING
    assert await inbox_rows(runtime) == 0


async def test_help_status_and_list(runtime: Runtime, driver: SlackDriver, channel: str) -> None:
    help_reply = await driver.command("U0ALICE", channel, "help")
    assert "*Usage*" in help_reply.json()["text"]  # answered inline
    assert await inbox_rows(runtime) == 0
    assert "no rollback request in this channel" in await command(
        runtime, driver, channel, "U0ALICE", "status"
    )
    assert "No open rollback requests" in await command(runtime, driver, channel, "U0ALICE", "list")

    await command(runtime, driver, channel, "U0ALICE", OPEN)
    [request] = await runtime.queries.list_open(channel)

    status = await command(runtime, driver, channel, "U0BOB", f"status {request.id}")
    assert request.id in status
    assert "awaiting decision" in status
    listing = await command(runtime, driver, channel, "U0BOB", "list")
    assert request.id in listing
    unknown = await command(runtime, driver, channel, "U0BOB", "status RB-ZZZZZZ")
    assert "there is no rollback request RB-ZZZZZZ" in unknown


async def test_user_text_cannot_ping_or_spoof(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(
        runtime,
        driver,
        channel,
        "U0ALICE",
        'deployment/api -n prod --reason "<!channel> see <@U0BOB> <https://evil|docs>"',
    )
    card = slack.state.history(channel)[0]
    text = str(card["blocks"]) + str(slack.state.replies(channel, card["ts"]))
    assert "<!channel>" not in text
    assert "<@U0BOB>" not in text
    assert "<https://evil|docs>" not in text
    assert "&lt;!channel&gt; see &lt;@U0BOB&gt; &lt;https://evil|docs&gt;" in text


async def test_health_and_metrics(runtime: Runtime, driver: SlackDriver, channel: str) -> None:
    import aiohttp

    await command(runtime, driver, channel, "U0ALICE", OPEN)
    base = driver.bot_url.removesuffix("/slack/events")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200
            assert (await resp.json()) == {"status": "ok"}
        async with http.get(f"{base}/metrics") as resp:
            text = await resp.text()
    assert "rollbot_rollback_requests_opened_total 1.0" in text
    assert 'rollbot_commands_total{outcome="ok"} 1.0' in text
