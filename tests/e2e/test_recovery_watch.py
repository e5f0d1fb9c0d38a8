"""After a verified rollback, recovery is re-checked for 30 minutes (the change management guide); a drift
fails the rollback and escalates. Time is moved, never waited for."""

from __future__ import annotations

from bot.audit.chain import CHECKPOINT_RULE
from bot.domain.request import RequestState
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.executor import ScriptedExecutor, ScriptedVerifier
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import buttons, card, click, command, thread

API = target_from("deployment/api", "prod")


async def _completed(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P2 --reason "slow"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    [request] = await runtime.queries.history(API)
    assert request.state is RequestState.COMPLETED


async def _actions(runtime: Runtime) -> list[str]:
    async with runtime.uow() as uow:
        return [e.action for e in await uow.audit.entries() if e.action != CHECKPOINT_RULE]


async def test_recovery_is_rechecked_every_five_minutes_for_thirty(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    await _completed(runtime, driver, slack, channel)
    clock.advance(minutes=4, seconds=59)
    assert await runtime.watch.tick() == 0
    clock.advance(seconds=1)
    assert await runtime.watch.tick() == 0  # re-check 1: nothing drifted
    for _ in range(5):
        clock.advance(minutes=5)
        assert await runtime.watch.tick() == 0
    clock.advance(minutes=30)
    assert await runtime.watch.tick() == 0
    await runtime.settle()

    lines = [t.split(" · ", 1)[1] for t in thread(slack, channel)]
    rechecks = [t for t in lines if t.startswith("recovery re-check")]
    assert rechecks == [
        f"recovery re-check {n} passed: health checks green, error rate back to baseline"
        for n in range(1, 7)
    ]
    assert lines[-1] == (
        ":white_check_mark: Watch window closed: recovery held for 30 minutes (6 re-checks)."
    )
    actions = await _actions(runtime)
    assert actions.count("verification.recheck") == 6
    assert actions.count("verification.watch_closed") == 1
    [request] = await runtime.queries.history(API)
    assert request.state is RequestState.COMPLETED
    assert "Recovery watched until 09:30 UTC, re-checked every 5 min" in str(
        card(slack, channel)["blocks"]
    )


async def test_a_drift_in_the_window_fails_the_rollback_and_escalates(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    verifier: ScriptedVerifier,
    executor: ScriptedExecutor,
) -> None:
    await _completed(runtime, driver, slack, channel)
    clock.advance(minutes=5)
    assert await runtime.watch.tick() == 0
    verifier.failing["deployment/api -n prod"] = "error rate 9.0% > 5%"
    clock.advance(minutes=5)
    assert await runtime.watch.tick() == 1
    clock.advance(minutes=5)
    assert await runtime.watch.tick() == 0  # a failed rollback is not watched any longer
    await runtime.settle()

    [request] = await runtime.queries.history(API)
    assert request.state is RequestState.FAILED
    assert request.outcome == (
        "failed to recover: recovery drifted within the watch window: error rate 9.0% > 5%"
    )
    lines = thread(slack, channel)
    assert (
        "rollbot found recovery drifting within the watch window: error rate 9.0% &gt; 5%"
        in lines[-2]
    )
    assert lines[-1].endswith(
        ":rotating_light: Escalation — recovery drifted within the watch window: error rate 9.0% &gt; 5%."
        " Rollbot stopped; a human must take over."
    )
    final = card(slack, channel)
    assert "failed" in final["text"]
    assert "Recovery confirmed" not in buttons(final)
    actions = await _actions(runtime)
    assert actions.count("verification.recheck") == 1
    assert actions[-1] == "verification.drifted"
    assert len(executor.executions) == 1  # never a second rollback on its own


async def test_a_person_confirms_recovery_once(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await _completed(runtime, driver, slack, channel)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.CONFIRM_RECOVERY)
    [request] = await runtime.queries.history(API)
    assert request.verification["user_validation"].startswith("confirmed by bob at")
    assert "Recovery confirmed" not in buttons(card(slack, channel))
    assert (await _actions(runtime)).count("recovery.confirmed") == 1


async def test_a_late_failed_recheck_after_the_window_is_still_told(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    clock: FakeClock,
    verifier: ScriptedVerifier,
) -> None:
    await _completed(runtime, driver, slack, channel)
    verifier.failing["deployment/api -n prod"] = "error rate 7.5% > 5%"
    clock.advance(hours=2)  # rollbot was down; the first beat runs long after the window
    assert await runtime.watch.tick() == 0  # too late to count as drift
    await runtime.settle()
    [request] = await runtime.queries.history(API)
    assert request.state is RequestState.COMPLETED
    assert thread(slack, channel)[-1].endswith(
        ":warning: recovery re-check 1 FAILED after the watch window: error rate 7.5% &gt; 5%. "
        "Check the service; rollbot does not act on it."
    )
    assert (await _actions(runtime))[-1] == "verification.recheck_failed"
    assert await runtime.watch.tick() == 0  # and the watch is over
