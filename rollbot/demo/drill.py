"""`make demo SCENARIO=drill`: before api 1.3.0 goes to production, its rollback is rehearsed
in staging on the sandbox cluster, and the deploy's readiness gate is asked before and after."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bot.domain.drill_policy import DrillPolicy
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy
from bot.domain.targets import target_from
from integrations.evidence.store import LocalEvidenceStore
from integrations.health.checks import HttpVerifier
from integrations.kubernetes.deployment import KubernetesExecutor
from rollbot.bootstrap.drills import drill_runner, readiness_gate
from rollbot.cli_drills import answer_lines, drill_lines
from rollbot.demo.world import DemoWorld, say
from sandbox.kube.releases import release_app
from sandbox.kube.server import SandboxKube

STAGING = target_from("deployment/api", "staging")
PROD = target_from("deployment/api", "prod")
RELEASE = "api:1.3.0"


async def play_drill(world: DemoWorld, policy: ApprovalPolicy) -> None:
    kube = SandboxKube(rollout_seconds=1.5)
    await kube.start()
    await release_app(kube, "api", ("api:1.2.3", RELEASE), "staging")
    await release_app(kube, "api", ("api:1.2.2", "api:1.2.3"), "prod")
    folder = Path(tempfile.mkdtemp(prefix="rollbot-demo-"))
    real = KubernetesExecutor(kubeconfig=kube.write_kubeconfig(folder / "kc"), rollout_timeout=60)
    executors: dict[str, Any] = {"deployment": real}
    policy = policy.model_copy(update={"drills": DrillPolicy(environments=("staging",))})
    runtime = await world.runtime(policy, executors)
    try:
        say("rollbot demo (drill): api 1.3.0 runs in staging; production still runs api 1.2.3.")
        say("The pipeline asks the readiness gate before deploying 1.3.0 to production:")
        say(f"$ rollbot readiness deployment/api -n prod --version {RELEASE}")
        gate = readiness_gate(runtime.uow, world.clock, policy, executors)
        for line in answer_lines(await gate.answer(PROD, RELEASE)):
            say(line)
        say()
        say("So the release waits, and the pipeline rehearses the rollback in staging first:")
        say("$ rollbot drill deployment/api -n staging")
        store = LocalEvidenceStore(world.settings.evidence_dir)
        runner = drill_runner(
            runtime.uow, world.clock, policy, executors, (HttpVerifier(policy), store)
        )

        async def progress(line: str) -> None:
            say(f"  {line}")

        drill = await runner.run(STAGING, Person(id="pipeline", name="pipeline"), progress)
        for line in drill_lines(drill):
            say(line)
        say(f"  evidence: {world.settings.evidence_dir / 'drills' / drill.id}")
        say()
        say("The gate again, now that the rollback of 1.3.0 is proven:")
        say(f"$ rollbot readiness deployment/api -n prod --version {RELEASE}")
        for line in answer_lines(await gate.answer(PROD, RELEASE)):
            say(line)
    finally:
        await runtime.close()
        await kube.stop()
