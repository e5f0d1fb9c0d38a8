"""Flag executors against flag environments that take changes only through their own review
(LaunchDarkly approval requests, Unleash change requests), over HTTP to the sandbox services;
and the retry wait a Retry-After HTTP date asks for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any

import aiohttp
import pytest

from bot.domain.policy import RollbackType
from bot.domain.request import TargetRef
from bot.ports import ExecutionError, PlatformReview
from integrations.flags.http import JsonApi, wait_for
from integrations.flags.launchdarkly import LD_API_VERSION, LaunchDarklyExecutor
from integrations.flags.reviews import WaitRules
from integrations.flags.unleash import UnleashExecutor
from sandbox.flags.server import SandboxFlags
from tests.helpers import unfenced
from tests.unit.domain.factories import make_request

CHECKOUT = TargetRef(kind="flag", name="new-checkout", namespace="production")
SEARCH = TargetRef(kind="flag", name="fast-search", namespace="production")
FAST = WaitRules(wait_seconds=10, poll_seconds=0.02, remind_seconds=60)


class Versions:
    """ConfigVersions kept in memory: what the LaunchDarkly executor records as it reads."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def record(self, target: TargetRef, data: dict[str, str]) -> None:
        self.seen.append(data)

    async def history(self, target: TargetRef) -> list[Any]:
        return []


@pytest.fixture
async def flags() -> AsyncIterator[SandboxFlags]:
    fake = SandboxFlags()
    await fake.start()
    fake.state.add_ld_flag("default", "new-checkout", on={"production": True})
    fake.state.ld_approval_envs.add(("default", "production"))
    fake.state.add_unleash_feature("default", "fast-search", enabled={"production": True})
    fake.state.unleash_change_requests[("default", "production")] = 1
    yield fake
    await fake.stop()


def _launchdarkly(flags: SandboxFlags, waits: WaitRules = FAST) -> LaunchDarklyExecutor:
    api = JsonApi(flags.url, flags.state.ld_token, "LaunchDarkly", max_wait=0.05)
    return LaunchDarklyExecutor(api, "default", Versions(), waits=waits)  # type: ignore[arg-type]


def _unleash(flags: SandboxFlags) -> UnleashExecutor:
    api = JsonApi(flags.url, flags.state.unleash_token, "Unleash", max_wait=0.05)
    return UnleashExecutor(api, "default", waits=FAST)


async def _execute(executor: Any, target: TargetRef) -> tuple[Any, list[str]]:
    lines: list[str] = []

    async def progress(line: str | PlatformReview) -> None:
        said = line if isinstance(line, str) else f"waiting on {line.what} {line.link}: {line.why}"
        lines.append(said)

    request = make_request(RollbackType.FEATURE_FLAG).model_copy(
        update={"target": target, "to_revision": None, "reason": "checkout errors"}
    )
    return await executor.execute(request, progress, unfenced), lines


async def _when(condition: Any) -> None:
    while not condition():  # noqa: ASYNC110  (a reviewer waiting for the request to arrive)
        await asyncio.sleep(0.01)


async def test_a_405_on_the_patch_turns_into_an_approval_request(flags: SandboxFlags) -> None:
    flags.state.ld_settings_hidden = True  # rollbot's token may not read approval settings
    executor = _launchdarkly(flags)
    pre = await executor.preflight(CHECKOUT, None)
    assert "requires approval" not in pre.summary  # it could not know yet

    async def reviewer() -> None:
        await _when(lambda: flags.state.ld_approvals)
        flags.state.ld_review(next(iter(flags.state.ld_approvals)), "approve", "member-lead")

    approving = asyncio.create_task(reviewer())
    result, lines = await _execute(executor, CHECKOUT)
    await approving
    assert [m for _, m, p in flags.state.calls if m != "GET"] == ["PATCH", "POST", "POST"]
    assert flags.state.ld_flags[("default", "new-checkout")].environments["production"]["on"] is (
        False
    )
    assert result.to_revision == "2"
    assert any(line.startswith("waiting on LaunchDarkly approval request http") for line in lines)
    assert set(flags.state.ld_api_versions) == {LD_API_VERSION}


async def test_an_approved_request_rollbot_may_not_apply_waits_for_a_person(
    flags: SandboxFlags,
) -> None:
    flags.state.may_apply = False

    async def reviewer_then_applier() -> None:
        await _when(lambda: flags.state.ld_approvals)
        [approval_id] = flags.state.ld_approvals
        flags.state.ld_review(approval_id, "approve", "member-lead")
        await _when(
            lambda: any(m == "POST" and p.endswith("/apply") for _, m, p in flags.state.calls)
        )
        flags.state.may_apply = True  # a person who holds the permission applies it
        path = flags.state.ld_approvals[approval_id]["_links"]["self"]["href"] + "/apply"
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": flags.state.ld_token}
            async with http.post(flags.url + path, json={}, headers=headers) as resp:
                assert resp.status == 200

    person = asyncio.create_task(reviewer_then_applier())
    _, lines = await _execute(_launchdarkly(flags), CHECKOUT)
    await person
    assert any("is approved, but rollbot may not apply it" in line for line in lines)
    assert any(line.endswith("was applied") for line in lines)


async def test_nobody_reviewing_ends_at_the_wait_and_says_the_request_stays_open(
    flags: SandboxFlags,
) -> None:
    waits = WaitRules(wait_seconds=0.2, poll_seconds=0.02, remind_seconds=0.05)
    with pytest.raises(ExecutionError) as failed:
        await _execute(_launchdarkly(flags, waits), CHECKOUT)
    [approval_id] = flags.state.ld_approvals
    assert f"/approvals/{approval_id}?env=production was not applied within 0.2 s" in str(
        failed.value
    )
    assert "it stays open there, and if someone applies it later the flag changes then" in str(
        failed.value
    )
    assert flags.state.ld_flags[("default", "new-checkout")].environments["production"]["on"]


async def test_an_unleash_change_request_is_submitted_followed_and_applied(
    flags: SandboxFlags,
) -> None:
    executor = _unleash(flags)
    pre = await executor.preflight(SEARCH, None)
    assert "Unleash requires a change request in production" in pre.summary

    async def reviewer() -> None:
        await _when(
            lambda: any(c["state"] == "In review" for c in flags.state.unleash_requests.values())
        )
        flags.state.unleash_review(1, approve=True, by="lead")

    approving = asyncio.create_task(reviewer())
    _, lines = await _execute(executor, SEARCH)
    await approving
    change = flags.state.unleash_requests[1]
    assert change["state"] == "Applied"
    assert change["features"][0]["changes"][0]["payload"] == {"enabled": False}
    assert change["comments"][0]["text"].endswith(": checkout errors")
    [env] = flags.state.unleash[("default", "fast-search")]["environments"]
    assert env["enabled"] is False
    assert lines[0].startswith(
        f"waiting on Unleash change request {flags.url}/projects/default/change-requests/1: "
        "Unleash requires a change request in production; rollbot opened it, submitted it"
    )


async def test_a_rejected_unleash_change_request_fails_with_who_rejected_it(
    flags: SandboxFlags,
) -> None:
    async def reviewer() -> None:
        await _when(lambda: flags.state.unleash_requests)
        await _when(lambda: flags.state.unleash_requests[1]["state"] == "In review")
        flags.state.unleash_review(1, approve=False, by="lead")

    rejecting = asyncio.create_task(reviewer())
    with pytest.raises(ExecutionError) as failed:
        await _execute(_unleash(flags), SEARCH)
    await rejecting
    assert "change request" in str(failed.value)
    assert "was declined (rejected by lead); the flag is unchanged" in str(failed.value)


async def test_unleash_without_a_change_request_api_refuses_with_the_reason(
    flags: SandboxFlags,
) -> None:
    flags.state.unleash_edition = "oss"  # no change-request routes, yet the toggle is gated
    with pytest.raises(ExecutionError) as failed:
        await _execute(_unleash(flags), SEARCH)
    assert str(failed.value) == (
        "Unleash takes changes to production only as change requests, and it offers rollbot no "
        "change-request API (open source Unleash, or a token without access to it): turn "
        "`fast-search` off in production in Unleash by hand"
    )


def test_retry_after_as_an_http_date_is_honoured() -> None:
    now = 1_800_000_000.0
    ahead = {"Retry-After": formatdate(now + 7, usegmt=True)}
    assert wait_for(ahead, attempt=0, max_wait=30, now=now) == 7
    assert wait_for({"Retry-After": "3"}, attempt=0, max_wait=30, now=now) == 3
    past = {"Retry-After": formatdate(now - 60, usegmt=True)}
    assert wait_for(past, attempt=0, max_wait=30, now=now) == 0
    assert wait_for({"Retry-After": "soon"}, attempt=1, max_wait=30, now=now) == 0.5  # backoff


async def test_a_429_with_an_http_date_is_waited_out(flags: SandboxFlags) -> None:
    flags.state.ld_approval_envs.clear()
    flags.state.fail_next("launchdarkly", "PATCH", 429, retry_after_date=True)
    result, _ = await _execute(_launchdarkly(flags), CHECKOUT)
    assert result.to_revision == "2"
    assert [m for _, m, _ in flags.state.calls].count("PATCH") == 2
