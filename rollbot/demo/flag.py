"""`make demo SCENARIO=flag`: the kill switch of the SOC 2 rollback and recovery procedures — a LaunchDarkly flag turned off
through the whole workflow, against the sandbox LaunchDarkly over HTTP."""

from __future__ import annotations

from typing import Any

from bot.domain.policy import ApprovalPolicy
from integrations.flags.http import JsonApi
from integrations.flags.launchdarkly import LaunchDarklyExecutor
from rollbot.demo.transcript import channel_transcript
from rollbot.demo.world import SIGNING_SECRET, DemoWorld, Scene, inspect_commands, say
from sandbox.executor import ScriptedExecutor
from sandbox.flags.server import SandboxFlags
from sandbox.slack.driver import SlackDriver


def _flag_line(flags: SandboxFlags) -> str:
    flag = flags.state.ld_flags[("default", "new-checkout")]
    state = "on" if flag.environments["production"]["on"] else "off"
    return f"LaunchDarkly flag new-checkout: {state} in production, flag version {flag.version}"


async def play_flag(world: DemoWorld, policy: ApprovalPolicy) -> None:
    flags = SandboxFlags()
    await flags.start()
    flags.state.add_ld_flag("default", "new-checkout", on={"production": True, "staging": True})
    api = JsonApi(flags.url, flags.state.ld_token, "LaunchDarkly")
    scripted = ScriptedExecutor()

    def executors(versions: Any) -> dict[str, Any]:
        flag = LaunchDarklyExecutor(api, "default", versions)
        return dict.fromkeys(("deployment", "configmap", "codedeploy"), scripted) | {"flag": flag}

    runtime = await world.runtime(policy, executors)
    ws = world.ws
    try:
        events = await runtime.serve_http()
        say(
            f"rollbot demo (flag) · database {world.url} · sandbox Slack {world.api} · bot {events}"
        )
        say("People: alice is on call, frank is the DevOps lead, dave is the incident commander.")
        say(f"Sandbox LaunchDarkly {flags.url}: {_flag_line(flags)}")
        say()
        async with SlackDriver(events, SIGNING_SECRET, ws) as driver:
            scene = Scene(runtime, driver, ws, verbose=world.verbose)
            say("— in #general —")
            await scene.types(
                "U0ALICE",
                world.general,
                "flag/new-checkout --env production --severity P2 "
                '--reason "checkout 5xx since new-checkout reached 100%" '
                "--ticket https://tickets.example/INC-77",
            )
            incident = next(c for c in ws.channels.values() if c.name.endswith("-new-checkout"))
            incident.members.update({"U0FRANK", "U0DAVE"})
            say(f"— frank and dave join #{incident.name} —")
            scene.shows_card(incident.id, "at the decision prompt")
            await scene.clicks("U0ALICE", incident.id, "Roll back")
            await scene.clicks("U0FRANK", incident.id, "Approve")
            await scene.clicks("U0DAVE", incident.id, "Customers notified")
            await scene.types("U0FRANK", incident.id, "history flag/new-checkout --env production")
        say()
        if world.verbose:
            say(channel_transcript(ws, incident.id))
        else:
            scene.tell(incident.id)
        say()
        say(f"Sandbox LaunchDarkly after the rollback: {_flag_line(flags)}")
        [entry] = flags.state.ld_audit
        say(
            f"LaunchDarkly audit log: {entry['member']['email']} {entry['description']} "
            f"— comment {entry['comment']!r}"
        )
        say()
        request_id = (await runtime.queries.status(incident.id, None)).id
        await inspect_commands(runtime, world, request_id)
    finally:
        await runtime.close()
        await flags.stop()
