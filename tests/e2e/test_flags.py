"""Feature flags as rollback targets (the SOC 2 rollback and recovery procedures: turning a LaunchDarkly flag off): the workflow
end to end against the sandbox LaunchDarkly and Unleash over HTTP, with their auth headers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.domain.request import RequestState
from bot.domain.targets import target_from
from bot.ports import ConfigVersions
from bot.usecases.audit_export import verify_database
from handlers.slack.ids import ActionId
from integrations.flags.http import JsonApi
from integrations.flags.launchdarkly import LaunchDarklyExecutor
from integrations.flags.unleash import UnleashExecutor
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor
from sandbox.flags.server import SandboxFlags
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import buttons, card, click, command, thread
from tests.helpers import NOTHING, audit_actions, evidence_files, stored

CHECKOUT = target_from("flag/new-checkout", None, "production")


@pytest.fixture
async def flags() -> AsyncIterator[SandboxFlags]:
    fake = SandboxFlags()
    await fake.start()
    fake.state.add_ld_flag("default", "new-checkout", on={"production": True, "staging": True})
    fake.state.add_unleash_feature("default", "fast-search", enabled={"production": True})
    yield fake
    await fake.stop()


@pytest.fixture
def provider() -> str:
    """Which flag service `flag/<key>` lives in; a test parametrizes it to use the other."""
    return "launchdarkly"


@pytest.fixture
def executors(
    executor: ScriptedExecutor, flags: SandboxFlags, provider: str
) -> Callable[[ConfigVersions], dict[str, Any]]:
    def build(versions: ConfigVersions) -> dict[str, Any]:
        if provider == "unleash":
            api = JsonApi(flags.url, flags.state.unleash_token, "Unleash", max_wait=0.05)
            flag: Any = UnleashExecutor(api, "default")
        else:
            api = JsonApi(flags.url, flags.state.ld_token, "LaunchDarkly", max_wait=0.05)
            flag = LaunchDarklyExecutor(api, "default", versions)
        return dict.fromkeys(("deployment", "configmap", "codedeploy"), executor) | {"flag": flag}

    return build


async def _approve_by_devops(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    shown = str(card(slack, channel)["blocks"])
    assert "needs devops lead" in shown  # a flag rollback is a configuration change
    await click(runtime, driver, slack, channel, "U0FRANK", ActionId.APPROVE)


async def test_the_kill_switch_turns_a_launchdarkly_flag_off(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, flags: SandboxFlags
) -> None:
    text = 'flag/new-checkout --env production --severity P2 --reason "checkout errors"'
    await command(runtime, driver, channel, "U0ALICE", text)
    assert "flag version 1: turn it off (kill switch); on true → false" in str(
        card(slack, channel)["blocks"]
    )
    await _approve_by_devops(runtime, driver, slack, channel)

    [request] = await runtime.queries.history(CHECKOUT)
    assert request.state is RequestState.COMPLETED
    flag = flags.state.ld_flags[("default", "new-checkout")]
    assert flag.environments["production"]["on"] is False
    assert flag.environments["staging"]["on"] is True  # only the named environment
    [(_, method, path)] = flags.state.patches()
    assert (method, path) == ("PATCH", "/api/v2/flags/default/new-checkout")
    [entry] = flags.state.ld_audit
    assert entry["description"] == "turnFlagOff"
    assert entry["comment"] == f"rollbot {request.id}: checkout errors"
    lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
    assert (
        "LaunchDarkly: `new-checkout` in production: on true → false (flag version 1 → 2)" in lines
    )
    assert "rollbot rolled back to revision 2" in lines

    _, files = evidence_files(runtime)
    before, after = json.loads(files["before.json"]), json.loads(files["after.json"])
    assert (before["state"]["on"], after["state"]["on"]) == ("true", "false")
    assert after["launchdarkly_audit_log"][0]["comment"] == entry["comment"]
    readable = files["flag-after.txt"].decode()
    assert readable.startswith("Flag flag/new-checkout -n production\n")
    assert "\nOn:" in readable
    assert readable.split("\nOn:", 1)[1].split()[0] == "False"
    assert entry["comment"] in readable  # the flag service's own audit log, as a table
    manifest = json.loads(files["manifest.json"])
    assert (manifest["from_version"], manifest["to_version"]) == ("1", "2")
    assert (await verify_database(runtime.engine, runtime.uow.signer.public_key)).ok

    history = await command(
        runtime, driver, channel, "U0BOB", "history flag/new-checkout --env production"
    )
    assert "`flag/new-checkout -n production` — :large_green_circle: completed" in history


async def test_a_flag_is_restored_to_a_version_rollbot_recorded(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, flags: SandboxFlags
) -> None:
    flag = flags.state.ld_flags[("default", "new-checkout")]
    flag.environments["production"]["on"] = False
    # rollbot records every state it reads: this refusal is how it saw version 1
    refused = await command(runtime, driver, channel, "U0ALICE", 'flag/new-checkout --reason "x"')
    assert "`flag/new-checkout -n production` is already off; nothing to roll back" in refused
    unseen = await command(
        runtime, driver, channel, "U0ALICE", 'flag/new-checkout --to-revision 5 --reason "x"'
    )
    assert "rollbot never saw version 5 of `flag/new-checkout -n production`" in unseen
    assert "it can restore the versions it recorded: 1" in unseen
    # then someone turns the flag on with another fallthrough: version 2
    flags.state.ld_apply(
        flag,
        {
            "environmentKey": "production",
            "instructions": [
                {"kind": "turnFlagOn"},
                {
                    "kind": "updateFallthroughVariationOrRollout",
                    "variationId": flag.variations[1]["_id"],
                },
            ],
        },
        member="someone@example.com",
    )
    text = 'flag/new-checkout --to-revision 1 --severity P2 --reason "restore the old checkout"'
    await command(runtime, driver, channel, "U0ALICE", text)
    assert "flag version 2: restore flag version 1" in str(card(slack, channel)["blocks"])
    await _approve_by_devops(runtime, driver, slack, channel)

    [request] = await runtime.queries.history(CHECKOUT)
    assert request.state is RequestState.COMPLETED
    production = flag.environments["production"]
    assert (production["on"], production["fallthrough"]) == (False, {"variation": 0})
    kinds = flags.state.ld_audit[-1]["description"]
    assert kinds == "updateFallthroughVariationOrRollout, turnFlagOff"


@pytest.mark.parametrize("provider", ["unleash"])
async def test_unleash_feature_is_turned_off_in_the_environment(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, flags: SandboxFlags
) -> None:
    refused = await command(
        runtime, driver, channel, "U0ALICE", 'flag/fast-search --to-revision 3 --reason "x"'
    )
    assert "Unleash keeps no versions rollbot can restore" in refused
    text = 'flag/fast-search --env production --severity P3 --reason "search times out"'
    await command(runtime, driver, channel, "U0ALICE", text)
    await _approve_by_devops(runtime, driver, slack, channel)
    feature = flags.state.unleash[("default", "fast-search")]
    assert feature["environments"][0]["enabled"] is False
    assert (
        "unleash",
        "POST",
        "/api/admin/projects/default/features/fast-search/environments/production/off",
    ) in flags.state.calls
    lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
    assert "Unleash: `fast-search` turned off in production" in lines
    _, files = evidence_files(runtime)
    before, after = json.loads(files["before.json"]), json.loads(files["after.json"])
    assert (before["state"], after["state"]) == ("enabled", "disabled")
    assert after["unleash_feature"]["environments"][0]["enabled"] is False
    assert files["flag-after.txt"].decode().splitlines()[1].split() == ["State:", "disabled"]


@pytest.mark.parametrize("provider", ["unleash"])
async def test_unleash_errors_fail_cleanly(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, flags: SandboxFlags
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'flag/fast-search --severity P3 --reason "x"'
    )
    flags.state.fail_next("unleash", "POST", 500, times=10)
    await _approve_by_devops(runtime, driver, slack, channel)
    [request] = await runtime.queries.history(target_from("flag/fast-search", None, "production"))
    assert request.state is RequestState.FAILED
    assert "Unleash answered POST" in (request.outcome or "")
    assert "with 500 after 4 tries" in (request.outcome or "")
    assert flags.state.unleash[("default", "fast-search")]["environments"][0]["enabled"] is True
    assert (await verify_database(runtime.engine, runtime.uow.signer.public_key)).ok


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (429, "answered PATCH /api/v2/flags/default/new-checkout with 429 after 4 tries"),
        (500, "answered PATCH /api/v2/flags/default/new-checkout with 500 after 4 tries"),
        (403, "answered PATCH /api/v2/flags/default/new-checkout with 403: sandbox fault 403"),
    ],
)
async def test_flag_api_errors_fail_the_rollback_cleanly(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    flags: SandboxFlags,
    status: int,
    says: str,
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'flag/new-checkout --severity P2 --reason "x"'
    )
    flags.state.fail_next("launchdarkly", "PATCH", status, times=10)
    await _approve_by_devops(runtime, driver, slack, channel)

    [request] = await runtime.queries.history(CHECKOUT)
    assert request.state is RequestState.FAILED
    assert says in (request.outcome or "")
    assert flags.state.ld_flags[("default", "new-checkout")].environments["production"]["on"]
    assert any("Escalation" in line for line in thread(slack, channel))
    actions = await audit_actions(runtime)
    assert actions.count("execution.failed") == 1
    assert (await verify_database(runtime.engine, runtime.uow.signer.public_key)).ok
    assert buttons(card(slack, channel)) == ["Customers notified"]


async def test_a_429_is_waited_out_and_a_wrong_token_refused(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, flags: SandboxFlags
) -> None:
    flags.state.fail_next("launchdarkly", "GET", 429, times=2)  # Retry-After, then fine
    await command(runtime, driver, channel, "U0ALICE", 'flag/new-checkout --reason "x"')
    assert "turn it off (kill switch)" in str(card(slack, channel)["blocks"])
    flags.state.ld_token = "api-rotated"  # rollbot's token no longer works
    said = await command(
        runtime, driver, channel, "U0BOB", 'flag/new-checkout --env staging --reason "y"'
    )
    assert "LaunchDarkly answered GET /api/v2/flags/default/new-checkout with 401" in said
    assert (
        len(await runtime.queries.history(target_from("flag/new-checkout", None, "staging"))) == 0
    )


async def test_an_unknown_flag_is_refused_and_nothing_stored(
    runtime: Runtime, driver: SlackDriver, channel: str
) -> None:
    said = await command(runtime, driver, channel, "U0ALICE", 'flag/no-such-flag --reason "x"')
    assert "LaunchDarkly: Unknown resource" in said
    assert await stored(runtime) == NOTHING
