"""`make demo`: a whole incident against the in-repo sandbox, printed as the channel shows it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bot.config.settings import load_settings
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
from integrations.kubernetes.deployment import KubernetesExecutor
from rollbot.bootstrap.runtime import Runtime
from rollbot.demo.later import ALERT_TOKEN, ShiftedClock, let_time_pass, post_alert, web_alert
from rollbot.demo.transcript import channel_transcript
from rollbot.demo.world import (
    DEMO_DB,
    DEMO_EVIDENCE,
    DEMO_KEY,
    PEOPLE,
    SIGNING_SECRET,
    DemoWorld,
    Scene,
    inspect_commands,
    say,
)
from sandbox.executor import ScriptedExecutor
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube
from sandbox.service import SandboxService
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from sandbox.slack.state import Channel, SlackState

ERRORS = 'sum(rate(http_requests_total{service="api",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="api"}[5m]))'
LATENCY = 'histogram_quantile(0.95, rate(http_request_duration_seconds_bucket{service="api"}[5m]))'


def demo_policy(service_url: str) -> ApprovalPolicy:
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


def _cluster_line(kube: SandboxKube) -> str:
    live = kube.store.get("deployments", "prod", "api")
    assert live is not None
    revision = live["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    image = live["spec"]["template"]["spec"]["containers"][0]["image"]
    ready = (live.get("status") or {}).get("availableReplicas", 0)
    return f"deployment/api -n prod: revision {revision}, image {image}, {ready}/{live['spec']['replicas']} available"


SCENARIOS = ("deployment", "flag", "drill", "database")


async def run_demo(scenario: str = "deployment", *, verbose: bool = False) -> None:
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
        # the sandbox Slack has no posting limit to respect: the demo does not wait on one
        slack_channel_burst=1000,
    )
    world = DemoWorld(ws, general, settings, ShiftedClock(), url, api, verbose)
    service = SandboxService()
    service_url = await service.start()
    # after the rollback, the service and its Prometheus report a healthy service again
    service.state["metrics"] = {ERRORS: 0.003, LATENCY: 0.23}
    try:
        if scenario == "flag":
            from rollbot.demo.flag import play_flag

            await play_flag(world, demo_policy(service_url))
        elif scenario == "drill":
            from rollbot.demo.drill import play_drill

            await play_drill(world, demo_policy(service_url))
        elif scenario == "database":
            from rollbot.demo.database import play_database

            await play_database(world, demo_policy(service_url))
        else:
            await _play_deployment(world, demo_policy(service_url))
    finally:
        await slack.stop()
        await service.stop()


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
        say("rollbot demo: one incident, played against a sandbox Slack and Kubernetes.")
        say(
            "alice is on call, bob the engineering lead, dave the incident commander. "
            f"The cluster: {_cluster_line(kube)}."
        )
        if world.verbose:
            say(f"database {world.url} · sandbox Slack {world.api} · bot {events}")
        say()
        async with SlackDriver(events, SIGNING_SECRET, ws) as driver:
            scene = Scene(runtime, driver, ws, verbose=world.verbose)
            incident = await _act_rollback(scene, ws, general, kube)
            web = await _act_alert(scene, runtime, events, ws)
            request_id = await _act_hours_later(scene, runtime, clock, incident.id)
        if world.verbose:
            say()
            say(channel_transcript(ws, incident.id))
            say()
            say(channel_transcript(ws, web.id))
        say()
        await inspect_commands(runtime, world, request_id)
    finally:
        await runtime.close()
        await kube.stop()


async def _act_rollback(scene: Scene, ws: SlackState, general: str, kube: SandboxKube) -> Channel:
    """A mistake, then a P1 rollback of api to revision 2 that only a second person may approve."""
    say("1. api 1.3.0 fails. alice asks for a rollback in #general, forgetting the reason first:")
    await scene.types("U0ALICE", general, "deployment/api -n prod --severity P1")
    if scene.verbose:
        await scene.types("U0ALICE", general, "help")
        await scene.types("U0ALICE", general, 'deployment/api -n staging --reason "5xx"')
    await scene.types(
        "U0ALICE",
        general,
        'deployment/api -n prod --to-revision 2 --severity P1 --reason "5xx at 38% since v1.3.0" '
        "--ticket https://tickets.example/INC-42",
    )
    incident = next(c for c in ws.channels.values() if c.name.startswith("inc-"))
    incident.members.update({"U0BOB", "U0DAVE"})
    say(f"2. rollbot opened #{incident.name}, paged for the P1 and posted the request card:")
    scene.news.skip(incident.id)
    scene.shows_card(incident.id, "at the decision prompt")
    await scene.clicks("U0ALICE", incident.id, "Roll back")
    say("3. An older revision needs the engineering lead; the requester may not approve it:")
    await scene.clicks("U0ALICE", incident.id, "Approve")
    if scene.verbose:
        await scene.clicks("U0DAVE", incident.id, "Approve")
    await scene.clicks("U0BOB", incident.id, "Approve")
    say("4. rollbot rolls back, follows the rollout and verifies recovery (in the card's thread):")
    scene.tell(incident.id)
    say(
        "   Kubernetes gives the restored template of revision 2 a new revision number, 4: "
        f"{_cluster_line(kube)}."
    )
    if scene.verbose:
        await scene.types("U0BOB", incident.id, "history deployment/api -n prod")
    return incident


async def _act_alert(scene: Scene, runtime: Runtime, events: str, ws: SlackState) -> Channel:
    """An alert opens an incident for web; dave chooses a forward fix."""
    say("5. Meanwhile Alertmanager reports HighLatency for web, and rollbot opens a request:")
    await post_alert(events, web_alert("firing"))
    await runtime.settle()
    web = next(c for c in ws.channels.values() if c.name.endswith("-web"))
    web.members.update({"U0DAVE"})
    scene.news.skip(web.id)
    scene.shows_card(web.id, "opened by the alert")
    await post_alert(events, web_alert("resolved"))
    await runtime.settle()
    say("   The alert resolves; dave, the incident commander, chooses a forward fix:")
    await scene.clicks("U0DAVE", web.id, "Forward fix")
    scene.tell(web.id)
    return web


async def _act_hours_later(
    scene: Scene, runtime: Runtime, clock: ShiftedClock, incident: str
) -> str:
    """The watch, the reminders and the evidence, by moving rollbot's clock."""
    await let_time_pass(runtime, clock, minutes=30)
    say(
        f"6. 30 minutes pass (simulated: rollbot's clock now reads {clock.now():%H:%M} UTC, "
        "and the times below are on it). The watch ends and the charts join the evidence:"
    )
    scene.tell(incident)
    await scene.clicks("U0DAVE", incident, "Customers notified")
    await scene.clicks("U0ALICE", incident, "Recovery confirmed")
    scene.news.skip(incident)
    await let_time_pass(runtime, clock, hours=48)
    say(f"7. 48 hours pass (simulated, {clock.now():%a %H:%M} UTC): the post-mortem is overdue:")
    scene.tell(incident)
    request_id = (await runtime.queries.status(incident, None)).id
    await scene.types(
        "U0BOB",
        incident,
        f"postmortem {request_id} https://wiki.example/pm/{request_id}",
    )
    scene.tell(incident)
    return request_id
