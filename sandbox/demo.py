"""`make demo`: a whole incident against the in-repo sandbox, printed as the channel shows it."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app import Runtime, build_runtime
from bot.audit_ops import verify_database
from bot.domain.alerts import AlertRoute
from bot.domain.policy import (
    ApprovalPolicy,
    HttpCheck,
    MetricsCheck,
    Role,
    RoleSource,
    ServicePolicy,
    VerificationPolicy,
)
from bot.domain.reporting import Month
from bot.reports import as_markdown
from bot.settings import Settings, load_settings
from integrations.kubernetes import KubernetesExecutor
from integrations.report_html import charts, page
from sandbox.demo_later import ALERT_TOKEN, ShiftedClock, let_time_pass, post_alert, web_alert
from sandbox.driver import BotReply, SlackDriver
from sandbox.executor import ScriptedExecutor
from sandbox.kube import SandboxKube
from sandbox.service import SandboxService
from sandbox.slack import SandboxSlack, SlackState
from sandbox.transcript import as_shown, channel_transcript, render_message

SIGNING_SECRET = "demo-signing-secret"
DEMO_DB = Path("rollbot-demo.db")
DEMO_KEY = Path("rollbot-demo-audit.key")
DEMO_EVIDENCE = Path("rollbot-demo-evidence")
DEMO_REPORT = Path("rollbot-demo-report.html")
PEOPLE = {
    "U0ALICE": ("alice", "Alice (on-call SRE)"),
    "U0BOB": ("bob", "Bob (engineering lead)"),
    "U0DAVE": ("dave", "Dave (incident commander)"),
    "U0VERA": ("vera", "Vera (VP Engineering)"),
    "U0FRANK": ("frank", "Frank (DevOps lead)"),
}


def _say(line: str = "") -> None:
    print(line, flush=True)


ERRORS = 'sum(rate(http_requests_total{service="api",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="api"}[5m]))'
LATENCY = 'histogram_quantile(0.95, rate(http_request_duration_seconds_bucket{service="api"}[5m]))'


def _policy(service_url: str) -> ApprovalPolicy:
    """The demo's people in their roles, and how api's recovery is proven after a rollback."""
    proof = VerificationPolicy(
        health=(HttpCheck(name="api /healthz", url=f"{service_url}/healthz", expect_body="ok"),),
        smoke=(
            HttpCheck(name="checkout", url=f"{service_url}/checkout", method="POST", body="{}"),
        ),
        metrics=MetricsCheck(
            prometheus_url=service_url,
            error_rate_query=ERRORS,
            latency_query=LATENCY,
            baseline_latency_seconds=0.2,
        ),
    )
    return ApprovalPolicy(
        roles={
            Role.ON_CALL: RoleSource(users=("U0ALICE",)),
            Role.ENGINEERING_LEAD: RoleSource(users=("U0BOB",)),
            Role.INCIDENT_COMMANDER: RoleSource(users=("U0DAVE",)),
            Role.VP_ENGINEERING: RoleSource(users=("U0VERA",)),
            Role.DEVOPS_LEAD: RoleSource(users=("U0FRANK",)),
        },
        services={
            "api": ServicePolicy(verification=proof),
            "new-checkout": ServicePolicy(verification=proof),
        },
        alerts=(
            AlertRoute(
                match={"service": "web", "env": "prod"}, target="deployment/web", namespace="prod"
            ),
        ),
    )


class Scene:
    """The people of the demo acting in the sandbox workspace; prints what each of them sees."""

    def __init__(self, runtime: Runtime, driver: SlackDriver, ws: SlackState) -> None:
        self.runtime = runtime
        self.driver = driver
        self.ws = ws
        self._seen_ephemeral = 0

    def _name(self, user: str) -> str:
        return PEOPLE[user][0]

    def _private(self, user: str, reply: BotReply | None = None) -> None:
        texts: list[str] = []
        if reply is not None and reply.text.startswith("{"):
            texts.append(str(reply.json().get("text", "")))
        fresh = self.ws.ephemerals[self._seen_ephemeral :]
        self._seen_ephemeral = len(self.ws.ephemerals)
        texts += [e["text"] for e in fresh if e["user"] == user]
        for text in texts:
            first, *rest = as_shown(self.ws, text).splitlines()
            _say(f"    (only {self._name(user)} sees) {first}")
            for line in rest if len(rest) < 6 else []:
                _say(f"        {line}")

    async def types(self, user: str, channel: str, text: str) -> None:
        _say(f"{self._name(user)}> /rollback {text}")
        reply = await self.driver.command(user, channel, text)
        await self.runtime.settle()
        self._private(user, reply)

    def shows_card(self, channel: str, moment: str) -> None:
        card = next(
            m for m in reversed(self.ws.history(channel)) if m["text"].startswith("Rollback RB-")
        )
        _say(f"  ┌ the card in #{self.ws.channels[channel].name} {moment}:")
        for line in render_message(card):
            for part in as_shown(self.ws, line).splitlines():
                _say(f"  │ {part}")
        _say("  └")

    async def clicks(self, user: str, channel: str, button: str) -> None:
        card = next(
            m for m in reversed(self.ws.history(channel)) if m["text"].startswith("Rollback RB-")
        )
        element = next(
            e
            for b in card["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["text"]["text"] == button
        )
        _say(f"{self._name(user)} clicks [{button}]")
        reply = await self.driver.click(user, channel, card, element["action_id"])
        await self.runtime.settle()
        self._private(user, reply if reply.text else None)


async def release_app(kube: SandboxKube, app: str, images: tuple[str, ...]) -> None:
    """Releases of one app in the sandbox cluster's prod namespace, oldest first."""
    if kube.store.get("namespaces", "", "prod") is None:
        kube.store.create(
            "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}
        )
    for i, image in enumerate(images):
        container = {"name": app, "image": image}
        if i == 0:
            kube.store.create(
                "deployments",
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": app, "namespace": "prod"},
                    "spec": {
                        "replicas": 3,
                        "selector": {"matchLabels": {"app": app}},
                        "template": {
                            "metadata": {"labels": {"app": app}},
                            "spec": {"containers": [container]},
                        },
                    },
                },
            )
        else:
            live = kube.store.get("deployments", "prod", app)
            assert live is not None
            live["spec"]["template"]["spec"]["containers"] = [container]
            kube.store.replace("deployments", live)
        await kube.controller.idle()


def _cluster_line(kube: SandboxKube) -> str:
    live = kube.store.get("deployments", "prod", "api")
    assert live is not None
    revision = live["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    image = live["spec"]["template"]["spec"]["containers"][0]["image"]
    ready = (live.get("status") or {}).get("availableReplicas", 0)
    return f"deployment/api -n prod: revision {revision}, image {image}, {ready}/{live['spec']['replicas']} available"


@dataclass
class DemoWorld:
    """What every scenario shares: the sandbox workspace, rollbot's settings and its clock."""

    ws: SlackState
    general: str
    settings: Settings
    clock: ShiftedClock
    url: str
    api: str

    async def runtime(self, policy: ApprovalPolicy, executors: Any) -> Runtime:
        return await build_runtime(
            self.settings, clock=self.clock, policy=policy, executors=executors
        )


SCENARIOS = ("deployment", "flag")


async def run_demo(scenario: str = "deployment") -> None:
    if scenario not in SCENARIOS:
        raise SystemExit(
            f"rollbot: unknown demo scenario {scenario!r}; available: {', '.join(SCENARIOS)}"
        )
    url = os.environ.get("ROLLBOT_DATABASE_URL")
    if url is None:
        for leftover in DEMO_DB.parent.glob(DEMO_DB.name + "*"):
            leftover.unlink()
        url = f"sqlite+aiosqlite:///{DEMO_DB}"
        shutil.rmtree(DEMO_EVIDENCE, ignore_errors=True)
    slack = SandboxSlack()
    api = await slack.start()
    ws = slack.state
    for user, (name, real) in PEOPLE.items():
        ws.add_user(user, name, real_name=real)
    general = ws.add_channel("general", tuple(PEOPLE))
    settings = load_settings(
        database_url=url,
        slack_bot_token=ws.token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=api,
        audit_key_file=Path(os.environ.get("ROLLBOT_AUDIT_KEY_FILE", DEMO_KEY)),
        evidence_dir=Path(os.environ.get("ROLLBOT_EVIDENCE_DIR", DEMO_EVIDENCE)),
        alert_token=ALERT_TOKEN,
    )
    world = DemoWorld(ws, general, settings, ShiftedClock(), url, api)
    service = SandboxService()
    service_url = await service.start()
    # after the rollback, the service and its Prometheus report a healthy service again
    service.state["metrics"] = {ERRORS: 0.003, LATENCY: 0.23}
    try:
        if scenario == "flag":
            from sandbox.demo_flag import play_flag

            await play_flag(world, _policy(service_url))
        else:
            await _play_deployment(world, _policy(service_url))
    finally:
        await slack.stop()
        await service.stop()


async def report_audit(runtime: Runtime, settings: Settings) -> None:
    """The audit check, the evidence packs, and the month's report, as the demo's last words."""
    _say("$ rollbot audit verify")
    _say(f"  {(await verify_database(runtime.engine, runtime.uow.signer.public_key)).render()}")
    for pack in sorted(settings.evidence_dir.glob("*/evidence-*.tar.gz")):
        digest = hashlib.sha256(pack.read_bytes()).hexdigest()
        _say(f"evidence pack {pack} sha256 {digest}")
    now = datetime.now(UTC)
    auditor = await runtime.reports.monthly(Month(year=now.year, month=now.month))
    html_report = settings.evidence_dir.parent / DEMO_REPORT
    await asyncio.to_thread(html_report.write_text, page(auditor, charts(auditor)), "utf-8")
    month = auditor.report.metrics.month
    _say()
    _say(f"$ rollbot report --month {month}   (the HTML page for auditors: {html_report})")
    _say(as_markdown(auditor))


async def _play_deployment(world: DemoWorld, policy: ApprovalPolicy) -> None:
    """A bad api release rolled back on the sandbox cluster; an alert-opened incident for web;
    the hours after, by moving the clock."""
    ws, general, clock = world.ws, world.general, world.clock
    kube = SandboxKube(rollout_seconds=1.5)
    await kube.start()
    await release_app(kube, "api", ("api:1.2.2", "api:1.2.3", "api:1.3.0"))
    await release_app(kube, "web", ("web:2.0.1", "web:2.1.0"))
    kubeconfig = kube.write_kubeconfig(
        Path(tempfile.mkdtemp(prefix="rollbot-demo-")) / "kubeconfig"
    )
    scripted = ScriptedExecutor()
    executors: dict[str, Any] = dict.fromkeys(("configmap", "codedeploy", "flag"), scripted)
    executors["deployment"] = KubernetesExecutor(kubeconfig=kubeconfig, rollout_timeout=60)
    runtime = await world.runtime(policy, executors)
    try:
        events = await runtime.serve_http()
        _say(f"rollbot demo · database {world.url} · sandbox Slack {world.api} · bot {events}")
        _say(
            "People: alice is on call, bob is the engineering lead, dave is the incident commander."
        )
        _say(f"Sandbox cluster {kube.url}: {_cluster_line(kube)}")
        _say()
        async with SlackDriver(events, SIGNING_SECRET, ws) as driver:
            scene = Scene(runtime, driver, ws)
            _say("— in #general —")
            await scene.types("U0ALICE", general, "help")
            await scene.types("U0ALICE", general, "deployment/api -n prod --severity P1")
            await scene.types("U0ALICE", general, 'deployment/api -n staging --reason "5xx"')
            await scene.types(
                "U0ALICE",
                general,
                'deployment/api -n prod --to-revision 2 --severity P1 --reason "5xx at 38% since v1.3.0 <!channel>" '
                "--ticket https://tickets.example/INC-42",
            )
            incident = ws.channel_by_name("inc-20261127-api") or next(
                c for c in ws.channels.values() if c.name.startswith("inc-")
            )
            incident.members.update({"U0BOB", "U0DAVE"})
            _say(f"— bob and dave join #{incident.name} —")
            scene.shows_card(incident.id, "at the decision prompt")
            await scene.clicks("U0ALICE", incident.id, "Roll back")
            scene.shows_card(incident.id, "waiting for approval")
            await scene.clicks("U0ALICE", incident.id, "Approve")
            await scene.clicks("U0DAVE", incident.id, "Approve")
            await scene.clicks("U0BOB", incident.id, "Approve")
            await scene.types("U0BOB", incident.id, "history deployment/api -n prod")

            _say("— Alertmanager posts HighLatency firing for web in prod —")
            await post_alert(events, web_alert("firing"))
            await runtime.settle()
            web = next(c for c in ws.channels.values() if c.name.endswith("-web"))
            web.members.update({"U0DAVE"})
            scene.shows_card(web.id, "opened by the alert")
            _say("— Alertmanager posts HighLatency resolved —")
            await post_alert(events, web_alert("resolved"))
            await runtime.settle()
            await scene.clicks("U0DAVE", web.id, "Forward fix")

            _say("— 5 minutes pass (the demo moves rollbot's clock; the scheduler ticks) —")
            await let_time_pass(runtime, clock, minutes=5)
            _say("— 25 more minutes pass —")
            await let_time_pass(runtime, clock, minutes=25)
            await scene.clicks("U0DAVE", incident.id, "Customers notified")
            await scene.clicks("U0ALICE", incident.id, "Recovery confirmed")
            _say("— 48 hours pass —")
            await let_time_pass(runtime, clock, hours=48)
            request_id = (await runtime.service.status(incident.id, None)).id
            await scene.types(
                "U0BOB",
                incident.id,
                f"postmortem {request_id} https://wiki.example/pm/{request_id}",
            )
        _say()
        _say(channel_transcript(ws, incident.id))
        _say()
        _say(channel_transcript(ws, web.id))
        _say()
        _say(f"Sandbox cluster after the rollback: {_cluster_line(kube)}")
        _say()
        await report_audit(runtime, world.settings)
    finally:
        await runtime.close()
        await kube.stop()
