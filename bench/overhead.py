"""What rollbot adds to a rollback: approval click to rollout complete, against `kubectl rollout
undo` then `kubectl rollout status`, on the same sandbox cluster with the same rollout time."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import Figure
from bot.config.settings import Settings, load_settings
from bot.domain.policy import ApprovalPolicy, Role, RoleSource
from bot.domain.request import RequestState
from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from integrations.kubernetes.deployment import KubernetesExecutor
from rollbot.bootstrap.runtime import Runtime, build_runtime
from sandbox.executor import ScriptedExecutor, ScriptedVerifier
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack

SECRET = "bench-signing-secret"
ROLLOUT_SECONDS = 1.0
ROUNDS = 5
API = target_from("deployment/api", "prod")


async def _kubectl(kubeconfig: Path, *args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        "kubectl",
        "--kubeconfig",
        str(kubeconfig),
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()


async def _bad_release(kube: SandboxKube, n: int) -> None:
    live = kube.store.get("deployments", "prod", "api")
    assert live is not None
    live["spec"]["template"]["spec"]["containers"] = [{"name": "api", "image": f"api:bad-{n}"}]
    kube.store.replace("deployments", live)
    await kube.controller.idle()


async def _kubectl_round(kubeconfig: Path) -> float:
    """The baseline: what an SRE types, timed from undo to the rollout's end."""
    started = time.perf_counter()
    await _kubectl(kubeconfig, "rollout", "undo", "deployment/api", "-n", "prod")
    await _kubectl(kubeconfig, "rollout", "status", "deployment/api", "-n", "prod")
    return time.perf_counter() - started


def _card(driver: SlackDriver, channel: str) -> dict[str, Any]:
    history = driver.slack.history(channel)
    return [m for m in history if m["text"].startswith("Rollback RB-")][-1]


async def _rollbot_round(
    runtime: Runtime, driver: SlackDriver, channel: str, executor: Any
) -> float:
    """The same rollback through rollbot, timed from the approving click to the rollout's end."""
    live = await executor.live_revision(API)
    text = f'deployment/api -n prod --to-revision {int(live) - 1} --reason "bench"'
    await driver.command("U0ALICE", channel, text)
    await runtime.settle()
    await driver.click("U0ALICE", channel, _card(driver, channel), ActionId.CHOOSE_ROLLBACK)
    await runtime.settle()
    card = _card(driver, channel)
    started = time.perf_counter()
    await driver.click("U0BOB", channel, card, ActionId.APPROVE)
    # the click is stored and answered; the worker takes it behind, as it does for a person
    waiting = (RequestState.AWAITING_APPROVAL, RequestState.APPROVED, RequestState.EXECUTING)
    while True:
        request = (await runtime.queries.history(API))[0]
        if request.state not in waiting or time.perf_counter() - started > 60:
            break
        await asyncio.sleep(0.002)
    took = time.perf_counter() - started
    assert request.state in (RequestState.VERIFYING, RequestState.COMPLETED), request.state
    await runtime.settle()
    return took


def _configuration(folder: Path, token: str, api: str) -> tuple[Settings, ApprovalPolicy]:
    """rollbot on SQLite in `folder`; alice on call, bob the engineering lead."""
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{folder / 'rollbot.db'}",
        slack_bot_token=token,
        slack_signing_secret=SECRET,
        slack_api_url=api,
        audit_key_file=folder / "audit.key",
        evidence_dir=folder / "evidence",
        log_level="warning",
    )
    policy = ApprovalPolicy(
        roles={
            Role.ON_CALL: RoleSource(users=("U0ALICE",)),
            Role.ENGINEERING_LEAD: RoleSource(users=("U0BOB",)),
        }
    )
    return settings, policy


async def measure() -> list[Figure]:
    kube = SandboxKube(rollout_seconds=ROLLOUT_SECONDS)
    await kube.start()
    await release_app(kube, "api", ("api:1.2.2", "api:1.2.3", "api:1.3.0"))
    folder = Path(tempfile.mkdtemp(prefix="rollbot-bench-overhead-"))
    kubeconfig = kube.write_kubeconfig(folder / "kubeconfig")
    slack = SandboxSlack()
    api = await slack.start()
    ws = slack.state
    for user in ("U0ALICE", "U0BOB"):
        ws.add_user(user, user[3:].lower())
    channel = ws.add_channel("inc-20261127-api", ("U0ALICE", "U0BOB"))
    settings, policy = _configuration(folder, ws.token, api)
    scripted = ScriptedExecutor()
    executors: dict[str, Any] = dict.fromkeys(("configmap", "codedeploy", "flag"), scripted)
    executors["deployment"] = KubernetesExecutor(kubeconfig=kubeconfig, rollout_timeout=60)
    runtime = await build_runtime(
        settings, policy=policy, executors=executors, verifier=ScriptedVerifier()
    )
    bare: list[float] = []
    ours: list[float] = []
    try:
        url = await runtime.serve_http()
        runtime.workers.start()  # as `rollbot serve` does: a stored click wakes its worker
        async with SlackDriver(url, SECRET, ws) as driver:
            for n in range(ROUNDS):
                await _bad_release(kube, 2 * n)
                bare.append(await _kubectl_round(kubeconfig))
                await _bad_release(kube, 2 * n + 1)
                ours.append(await _rollbot_round(runtime, driver, channel, executors["deployment"]))
    finally:
        await runtime.close()
        await slack.stop()
        await kube.stop()
    mine, theirs = statistics.median(ours), statistics.median(bare)
    return [
        Figure(
            f"approval click to rollout complete (median of {ROUNDS}, {ROLLOUT_SECONDS:.0f} s rollout)",
            mine * 1000,
            theirs * 1000,
            "ms",
            "kubectl rollout undo + rollout status",
            "under 1.1x",
            mine < 1.1 * theirs,
        ),
        Figure(
            "time rollbot adds to the rollback",
            (mine - theirs) * 1000,
            None,
            "ms",
            target="under 300 ms",
            met=(mine - theirs) < 0.3,
        ),
    ]
