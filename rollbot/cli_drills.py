"""`rollbot drill` and `rollbot readiness`: rehearse a rollback where it harms nobody, and let a
pipeline ask, before it deploys, whether the version it ships could be rolled back."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rollbot.cli_support import fail, on_database, settings_or_fail

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.config.settings import Settings
    from bot.domain.drills import Drill
    from bot.domain.rollback_readiness import ReadinessAnswer

NOT_READY = 1


def _parts(settings: Settings, engine: AsyncEngine) -> tuple[Any, Any, Any, Any]:
    """The unit of work signing with the bot's audit key, the policy, the executors, the
    verifier."""
    from bot.config.policy_file import load_policy
    from bot.ports import SystemClock
    from bot.store.config_versions import StoredConfigVersions
    from integrations.health.checks import HttpVerifier
    from rollbot.bootstrap.runtime import unit_of_work
    from rollbot.cli import executors_for

    policy = load_policy(settings.policy_file)
    uow = unit_of_work(settings, engine)
    made, verifier, _ = executors_for(settings)
    executors = made(StoredConfigVersions(uow, SystemClock())) if callable(made) else made
    verifier = verifier or HttpVerifier(policy, timeout=settings.health_timeout_seconds)
    return uow, policy, executors, verifier


def _target(spec: str, namespace: str | None) -> Any:
    from bot.domain.targets import InputError, target_from

    try:
        return target_from(spec, namespace)
    except InputError as exc:
        raise fail(exc.problem) from None


def drill_lines(drill: Drill) -> list[str]:
    """The drill's record as a person reads it at the end of a pipeline step."""
    from bot.domain.drills import DrillState, inspect_commands, said_duration

    lines = [f"drill {drill.id} of {drill.target.label}: {drill.state.value}"]
    if drill.time_to_rolled_out is not None:
        lines.append(f"  rolled out in      {said_duration(drill.time_to_rolled_out)}")
    if drill.time_to_verified is not None:
        lines.append(
            f"  verified in        {said_duration(drill.time_to_verified)} "
            f"(target {said_duration(drill.target_time)})"
        )
    lines.append(f"  started from       revision {drill.start_revision} ({drill.start_identity})")
    if drill.rolled_forward_identity is not None:
        lines.append(f"  rolled forward to  {drill.rolled_forward_identity}")
    if drill.state is DrillState.FAILED:
        lines.append(f"  failed while {drill.failure}")
        lines.append("  the target is left as that step left it; inspect it with:")
        lines.extend(f"    {cmd}" for cmd in inspect_commands(drill))
    return lines


def drill(
    target: Annotated[str, typer.Argument(help="What to rehearse, e.g. deployment/api")],
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="The target's namespace")
    ] = None,
    by: Annotated[str, typer.Option(help="Who runs it, for the audit log")] = "pipeline",
) -> None:
    """Roll a target back to its previous version and forward again, in a drill environment,
    timing and verifying both; exit 1 when the drill fails."""
    from bot.domain.drills import DrillRefusedError, DrillState
    from bot.domain.people import Person
    from bot.ports import AdapterError, SystemClock
    from integrations.evidence.store import store_from
    from rollbot.bootstrap.drills import drill_runner

    settings = settings_or_fail()
    ref = _target(target, namespace)

    async def work(engine: AsyncEngine) -> Drill:
        uow, policy, executors, verifier = _parts(settings, engine)
        store = store_from(settings, policy.evidence.retention, SystemClock())
        runner = drill_runner(uow, SystemClock(), policy, executors, (verifier, store))

        async def say(line: str) -> None:
            typer.echo(f"  {line}")

        try:
            return await runner.run(ref, Person(id=by, name=by), say)
        except (DrillRefusedError, AdapterError) as exc:
            raise fail(str(exc)) from None

    done = on_database(work)
    typer.echo("\n".join(drill_lines(done)))
    if done.state is not DrillState.PASSED:
        raise typer.Exit(NOT_READY)


def answer_lines(answer: ReadinessAnswer) -> list[str]:
    verdict = "ready" if answer.ready else "NOT ready"
    head = f"{answer.target.label} {verdict} to deploy {answer.version}"
    return [head, *(f"  {'ok ' if c.ok else 'NO '} {c.line}" for c in answer.conditions)]


def readiness(
    target: Annotated[str, typer.Argument(help="What the deploy changes, e.g. deployment/api")],
    version: Annotated[str, typer.Option(help="The image or tag the deploy ships")],
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="The production namespace")
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json")] = "text",
) -> None:
    """Exit 0 only when the version had a recent passing drill and production can still be
    rolled back; otherwise print each failing condition and exit 1."""
    from bot.ports import SystemClock
    from rollbot.bootstrap.drills import readiness_gate

    if output not in ("text", "json"):
        raise fail(f"-o takes text or json, not {output!r}")
    settings = settings_or_fail()
    ref = _target(target, namespace)

    async def work(engine: AsyncEngine) -> ReadinessAnswer:
        uow, policy, executors, _ = _parts(settings, engine)
        return await readiness_gate(uow, SystemClock(), policy, executors).answer(ref, version)

    answer = on_database(work)
    if output == "json":
        body = {**answer.model_dump(mode="json"), "ready": answer.ready}
        typer.echo(json.dumps(body, indent=2))
    else:
        typer.echo("\n".join(answer_lines(answer)))
    if not answer.ready:
        raise typer.Exit(NOT_READY)
