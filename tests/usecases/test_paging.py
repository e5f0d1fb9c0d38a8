"""Who a severity pages, and where: decided in the core, queued where it is posted."""

from __future__ import annotations

import pytest

from bot.domain.notices import NoticeKind, Page, Placement
from bot.domain.policy import ApprovalPolicy
from tests.usecases.conftest import World


@pytest.fixture
def policy(policy: ApprovalPolicy) -> ApprovalPolicy:
    paging = policy.paging.model_copy(update={"incidents_channel": "incidents"})
    return policy.model_copy(update={"paging": paging})


async def test_a_p3_page_is_queued_for_the_incidents_channel(world: World, channel: str) -> None:
    await world.open(channel=channel, severity="P3")

    [page] = [n for n in await world.pending() if n.kind is NoticeKind.PAGE]
    assert page.channel == "incidents"
    assert isinstance(page.payload, Page)
    assert page.placement is Placement.MESSAGE
    assert page.payload.mentions.empty  # a P3 mentions nobody


async def test_a_p1_page_mentions_the_vp_in_the_request_channel(world: World, channel: str) -> None:
    await world.open(channel=channel, severity="P1")

    [page] = [n for n in await world.pending() if n.kind is NoticeKind.PAGE]
    assert page.channel == channel
    assert isinstance(page.payload, Page)
    assert page.payload.mentions.users == ("U0ERIN",)
