"""`rollbot try`: rollbot running against the sandbox Slack and Kubernetes, with a small
Slack-like workspace in the browser to act in as any of the team (sandbox/slack/workspace.py).

Everything runs as it does in production (rollbot answers, its workers deliver and execute, the
scheduler ticks), on a SQLite database in a temporary directory that is removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config.settings import load_settings
from bot.domain.policy import ApprovalPolicy, Role, RoleSource
from integrations.kubernetes.deployment import KubernetesExecutor
from rollbot.bootstrap.runtime import Runtime, build_runtime
from rollbot.demo.incident import ERRORS, LATENCY, demo_policy
from sandbox.executor import ScriptedExecutor
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube
from sandbox.service import SandboxService
from sandbox.slack.server import SandboxSlack
from sandbox.slack.workspace import Workspace

SIGNING_SECRET = "try-signing-secret"
PEOPLE = {
    "U0ALICE": ("alice", "Alice, on-call SRE (requester)"),
    "U0BOB": ("bob", "Bob, engineering lead"),
    "U0CAROL": ("carol", "Carol, DBA"),
    "U0DAVE": ("dave", "Dave, incident commander"),
    "U0VERA": ("vera", "Vera, VP Engineering"),
    "U0GUEST": ("gina", "Gina, guest (no role)"),
}
RELEASES = {"api": ("api:1.2.2", "api:1.2.3", "api:1.3.0"), "web": ("web:2.0.1", "web:2.1.0")}


@dataclass
class TryWorld:
    url: str  # the workspace page
    runtime: Runtime
    kube: SandboxKube
    slack: SandboxSlack


def _policy(service_url: str) -> ApprovalPolicy:
    policy = demo_policy(service_url)
    roles = {**policy.roles, Role.DBA: RoleSource(users=("U0CAROL",))}
    return policy.model_copy(update={"roles": roles})


def _cluster(kube: SandboxKube) -> list[dict[str, str]]:
    """`kubectl get deployments -o wide` as the side panel shows it."""
    rows = []
    for d in kube.store.list("deployments", None):
        template = d["spec"]["template"]["spec"]
        status = d.get("status") or {}
        rows.append(
            {
                "name": f"{d['metadata']['namespace']}/{d['metadata']['name']}",
                "revision": (d["metadata"].get("annotations") or {}).get(
                    "deployment.kubernetes.io/revision", "?"
                ),
                "images": ", ".join(c.get("image", "?") for c in template.get("containers", [])),
                "ready": f"{status.get('availableReplicas', 0)}/{d['spec'].get('replicas', 0)}",
            }
        )
    return rows


async def _worlds() -> tuple[SandboxSlack, SandboxKube, SandboxService]:
    slack = SandboxSlack()
    for user, (name, real) in PEOPLE.items():
        slack.state.add_user(user, name, real_name=real)
    slack.state.add_channel("general", tuple(PEOPLE))
    kube = SandboxKube(rollout_seconds=3.0)
    await kube.start()
    for app, images in RELEASES.items():
        await release_app(kube, app, images)
    service = SandboxService()
    await service.start()
    service.state["metrics"] = {ERRORS: 0.004, LATENCY: 0.22}  # healthy once rolled back
    return slack, kube, service


@contextlib.asynccontextmanager
async def try_world(folder: Path | None = None) -> AsyncIterator[TryWorld]:
    """The sandboxes and rollbot, started; everything stopped and removed on the way out."""
    made = folder is None
    folder = folder or Path(tempfile.mkdtemp(prefix="rollbot-try-"))
    folder.mkdir(parents=True, exist_ok=True)
    slack, kube, service = await _worlds()
    scripted = ScriptedExecutor()
    executors: dict[str, Any] = dict.fromkeys(("configmap", "codedeploy", "flag"), scripted)
    kubeconfig = kube.write_kubeconfig(folder / "kubeconfig")
    executors["deployment"] = KubernetesExecutor(kubeconfig=kubeconfig, rollout_timeout=120)
    runtime: Runtime | None = None
    # the page comes up with the sandbox Slack; rollbot's address is known once it serves
    workspace = Workspace(
        bot_url="",
        signing_secret=SIGNING_SECRET,
        people={k: v[1] for k, v in PEOPLE.items()},
        panel=lambda: _panel(kube, runtime),
    )
    slack.workspace = workspace
    try:
        api = await slack.start()
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{folder / 'rollbot-try.db'}",
            slack_bot_token=slack.state.token,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=api,
            audit_key_file=folder / "audit.key",
            evidence_dir=folder / "evidence",
            tick_seconds=2,
        )
        runtime = await build_runtime(settings, policy=_policy(service.url), executors=executors)
        workspace.bot_url = await runtime.serve_http()
        runtime.delivery.start()
        runtime.workers.start()
        runtime.due.start()
        yield TryWorld(slack.state.base_url + "/", runtime, kube, slack)
    finally:
        if runtime is not None:
            await runtime.close()
        await slack.stop()
        await kube.stop()
        await service.stop()
        if made:
            shutil.rmtree(folder, ignore_errors=True)


async def _panel(kube: SandboxKube, runtime: Runtime | None) -> dict[str, Any]:
    head = None
    if runtime is not None:
        async with runtime.uow() as uow:
            found = await uow.audit.head()
        head = f"seq {found[0]}, {found[1][:16]}…" if found else None
    return {"deployments": _cluster(kube), "audit": head}


async def run_try(open_browser: bool) -> None:
    async with try_world() as world:
        print(f"rollbot try: open {world.url} (Ctrl-C stops it and removes everything)")
        print(
            "Pick a person on the left and type /rollback deployment/api -n prod --severity P1 "
            '--reason "5xx since 1.3.0" in #general.'
        )
        if open_browser:
            import webbrowser

            webbrowser.open(world.url)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
