"""The sandbox Slack fails the way Slack does, so the tests that run against it can see the
failures users meet: membership, private and archived channels, names, triggers, response
URLs, scopes and Block Kit limits."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from integrations.slack.delivery import client_for
from sandbox.slack.server import SandboxSlack


@pytest.fixture
def client(slack: SandboxSlack) -> AsyncWebClient:
    return client_for(slack.state.token, slack.api_url)


async def _error(call: object) -> str:
    try:
        await call  # type: ignore[misc]
    except SlackApiError as exc:
        return str(exc.response["error"])
    raise AssertionError("Slack accepted it")


async def test_membership_private_and_archived_channels(
    slack: SandboxSlack, client: AsyncWebClient
) -> None:
    ws = slack.state
    public = ws.add_channel("ops", ("U0ALICE",))
    assert await _error(client.chat_postMessage(channel=public, text="hi")) == "not_in_channel"
    await client.conversations_join(channel=public)
    assert (await client.chat_postMessage(channel=public, text="hi"))["ok"]
    secret = ws.add_channel("sec", ("U0ALICE",), private=True)
    assert await _error(client.conversations_info(channel=secret)) == "channel_not_found"
    assert await _error(client.conversations_join(channel=secret)) == "channel_not_found"
    ws.invite_bot(secret)
    assert (await client.conversations_info(channel=secret))["channel"]["is_private"]
    ws.archive(public)
    assert await _error(client.chat_postMessage(channel=public, text="hi")) == "is_archived"
    assert await _error(client.conversations_join(channel=public)) == "is_archived"
    ws.remove_bot(secret)
    assert await _error(client.chat_postMessage(channel=secret, text="hi")) == "channel_not_found"


async def test_names_deleted_messages_and_limits(
    slack: SandboxSlack, client: AsyncWebClient
) -> None:
    assert await _error(client.conversations_create(name="x" * 81)) == "invalid_name_maxlength"
    assert await _error(client.conversations_create(name="Inc Outage")) == "invalid_name_specials"
    made = (await client.conversations_create(name="inc-a"))["channel"]["id"]
    assert await _error(client.conversations_create(name="inc-a")) == "name_taken"
    posted = await client.chat_postMessage(channel=made, text="card")
    slack.state.delete_message(made, posted["ts"])
    assert await _error(client.chat_update(channel=made, ts=posted["ts"], text="x")) == (
        "message_not_found"
    )
    reply = client.chat_postMessage(channel=made, thread_ts=posted["ts"], text="x")
    assert await _error(reply) == "thread_not_found"
    assert await _error(client.chat_postMessage(channel=made, text="x" * 40_001)) == "msg_too_long"
    button = {
        "type": "button",
        "action_id": "go",
        "text": {"type": "plain_text", "text": "Go"},
        "confirm": {
            "title": {"type": "plain_text", "text": "t" * 101},
            "text": {"type": "mrkdwn", "text": "sure?"},
            "confirm": {"type": "plain_text", "text": "Yes"},
        },
    }
    blocks = [{"type": "actions", "elements": [button]}]
    bad = client.chat_postMessage(channel=made, text="x", blocks=blocks)
    assert await _error(bad) == "invalid_blocks"
    trigger = slack.state.issue_trigger()
    view = {"type": "modal", "title": {"type": "plain_text", "text": "a title far too long for it"}}
    assert await _error(client.views_open(trigger_id=trigger, view=view)) == "invalid_blocks"


async def test_a_trigger_opens_one_view_once(slack: SandboxSlack, client: AsyncWebClient) -> None:
    trigger = slack.state.issue_trigger()
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Rollback"}, "blocks": []}
    assert (await client.views_open(trigger_id=trigger, view=view))["ok"]
    assert await _error(client.views_open(trigger_id=trigger, view=view)) == (
        "exchanged_trigger_id"
    )


async def test_a_response_url_works_five_times(slack: SandboxSlack) -> None:
    url = slack.state.issue_response_url("C1", "U0ALICE")
    async with aiohttp.ClientSession() as http:
        statuses = []
        for _ in range(6):
            async with http.post(url, json={"text": "ok"}) as resp:
                statuses.append((resp.status, await resp.text()))
    assert [s for s, _ in statuses] == [200] * 5 + [404]
    assert statuses[-1][1] == "used_url"


async def test_a_method_outside_the_tokens_scopes_is_refused(
    slack: SandboxSlack, client: AsyncWebClient
) -> None:
    slack.state.scopes.discard("usergroups:read")
    assert await _error(client.usergroups_users_list(usergroup="S0DEVOPS")) == "missing_scope"
