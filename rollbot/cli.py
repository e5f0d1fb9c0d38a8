"""`rollbot serve | demo | db | sandbox`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import structlog
import typer

from bot.config.settings import Settings, variables_read
from rollbot.cli_admin import db_app, policy_app
from rollbot.cli_audit import audit_app
from rollbot.cli_drills import drill, readiness
from rollbot.cli_evidence import evidence_app
from rollbot.cli_requests import requests_app
from rollbot.cli_support import (
    FLAGS,
    PortInUseError,
    fail,
    on_database,
    port_in_use,
    read_only_evidence_store,
    run,
    settings_or_fail,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger("rollbot")
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: no <bool> placeholders on flags
    help="Governed production rollbacks from Slack.",
)
sandbox_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Run the in-repo fakes standalone."
)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(evidence_app, name="evidence")
app.add_typer(policy_app, name="policy")
app.add_typer(requests_app, name="requests")
app.add_typer(sandbox_app, name="sandbox")
app.command("drill")(drill)
app.command("readiness")(readiness)

T = TypeVar("T")


def _version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        typer.echo(f"rollbot {version('rollbot')}")
        raise typer.Exit()


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error, not one line")
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """Governed production rollbacks from Slack."""
    FLAGS.debug = debug


def _rolls_nothing_back() -> tuple[Any, Any, dict[str, Any]]:
    """No executor, no verifier, nothing for /readyz to probe: ROLLBOT_EXECUTOR=none, and a
    replica that only answers."""
    return {}, None, {}


def executors_for(settings: Settings) -> tuple[Any, Any, dict[str, Any]]:
    """What rolls each target kind back, what verifies recovery, and what /readyz probes."""
    if settings.executor == "kubernetes":
        from bot.config.policy_file import load_policy
        from integrations.kubernetes.access import kubeconfig_problem
        from integrations.kubernetes.deployment import KubernetesExecutor

        problem = kubeconfig_problem(settings.kubeconfig, settings.kube_context)
        if problem is not None:
            raise fail(problem, 3)

        policy = load_policy(settings.policy_file)
        contexts = {
            name: svc.kube_context for name, svc in policy.services.items() if svc.kube_context
        }
        kube = KubernetesExecutor(
            kubeconfig=settings.kubeconfig,
            context=settings.kube_context,
            contexts=contexts,
            request_timeout=settings.kube_request_timeout_seconds,
            plain_undo=frozenset(n for n, svc in policy.services.items() if svc.helm != "refuse"),
        )

        def executors(versions: Any) -> dict[str, Any]:
            from integrations.kubernetes.configmap import KubernetesConfigMapExecutor
            from rollbot.bootstrap.executors import (
                codedeploy_executor,
                flag_executor,
                with_databases,
            )

            found = {
                "deployment": kube,
                "configmap": KubernetesConfigMapExecutor(kube, versions),
                "codedeploy": codedeploy_executor(settings),
            }
            flags = flag_executor(settings, versions)
            found |= with_databases(settings, policy, kube)
            return found | ({"flag": flags} if flags is not None else {})

        from bot.domain.request import TargetRef
        from integrations.kubernetes.access import api_server_version

        default = TargetRef(kind="deployment", name="-")  # the default context's cluster
        api = kube.api_for(default)
        timeout = settings.kube_request_timeout_seconds
        return executors, None, {"kubernetes": lambda: api_server_version(api, timeout)}
    if settings.executor == "sandbox":
        from sandbox.executor import ScriptedExecutor, ScriptedVerifier

        scripted = ScriptedExecutor()
        kinds = ("deployment", "configmap", "codedeploy", "flag")
        return dict.fromkeys(kinds, scripted), ScriptedVerifier(), {}
    return _rolls_nothing_back()


@app.command(
    help="Run the bot: answer Slack and Alertmanager, and (unless --no-worker) do the work.\n\n"
    + variables_read()
)
def serve(
    port: Annotated[
        int, typer.Option(help="HTTP port for /slack/events, /healthz, /metrics")
    ] = 3000,
    host: Annotated[str, typer.Option(help="Address to bind")] = "0.0.0.0",
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="Connect to Slack over Socket Mode")
    ] = False,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Also do the work (the default); --no-worker only stores and answers, "
            "for replicas beside `rollbot worker` ones, and reads no ROLLBOT_EXECUTOR",
        ),
    ] = True,
) -> None:
    settings = settings_or_fail()
    if socket_mode and not settings.slack_app_token:
        raise fail("missing required setting SLACK_APP_TOKEN (needed for --socket-mode)")
    run(lambda: _run(settings, port, host, socket_mode=socket_mode, work=worker))


@app.command(
    "worker",
    help="Do the work only: process what `serve --no-worker` replicas stored, run rollbacks, "
    "deliver to Slack, and run timeouts and reminders. Point Slack at the serve replicas.\n\n"
    + variables_read(),
)
def worker_command(
    port: Annotated[int, typer.Option(help="HTTP port for /healthz, /readyz and /metrics")] = 3001,
    host: Annotated[str, typer.Option(help="Address to bind")] = "0.0.0.0",
) -> None:
    run(lambda: _run(settings_or_fail(), port, host, socket_mode=False, work=True, answer=False))


async def _run(
    settings: Settings, port: int, host: str, *, socket_mode: bool, work: bool, answer: bool = True
) -> None:
    """One rollbot process until SIGINT or SIGTERM: the answering HTTP surface, the workers,
    or both (`rollbot serve`)."""
    from bot.config.logs import configure_logging
    from rollbot.bootstrap.runtime import build_runtime
    from rollbot.startup import executor_problem, slack_token_problem

    configure_logging(settings.log_format, settings.log_level)
    # A replica that only answers rolls nothing back: it needs no executor and no cluster access.
    executors, verifier, probes = _rolls_nothing_back()
    if work:
        problem = executor_problem(settings)
        if problem is not None:
            raise fail(problem, 3)
        executors, verifier, probes = executors_for(settings)
    # the database first: reachable, migrated (or an empty one migrated); then Slack's token
    runtime = await build_runtime(settings, executors=executors, verifier=verifier, probes=probes)
    problem = await slack_token_problem(settings)
    if problem is not None:
        await runtime.close()
        raise fail(problem, 3)
    if work:
        runtime.delivery.start()
        runtime.workers.start()
        runtime.due.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    handler = None
    try:
        try:
            url = await runtime.serve_http(port, host)
        except OSError as exc:
            if port_in_use(exc):
                raise PortInUseError(host, port) from None
            raise
        base = url.removesuffix("/slack/events")
        # a log event, not a plain line: the stream stays one format
        if answer:
            log.info("rollbot.serving", url=url, health=f"{base}/healthz")
        else:  # a worker answers no Slack request: its address is its health check
            log.info("rollbot.working", url=f"{base}/healthz")
        if socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            handler = AsyncSocketModeHandler(runtime.bolt, settings.slack_app_token)
            await handler.connect_async()  # type: ignore[no-untyped-call]
        await stop.wait()
    finally:
        if handler is not None:
            await handler.close_async()  # type: ignore[no-untyped-call]
        await runtime.close()


@app.command()
def demo(
    scenario: Annotated[
        str, typer.Option(help="Which incident to play: deployment (default) or flag")
    ] = "deployment",
    verbose: Annotated[
        bool, typer.Option(help="Print everything: every card in full, logs, the whole channels")
    ] = False,
) -> None:
    """Play a whole incident against the in-repo sandbox, told as a story of what Slack shows."""
    from bot.config.logs import configure_logging
    from rollbot.demo.incident import run_demo

    # the story says what happened; the log lines are for --verbose
    configure_logging("console", "info" if verbose else "error")
    run(lambda: run_demo(scenario, verbose=verbose))


@app.command("try")
def try_it(
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the page in your browser")
    ] = True,
) -> None:
    """rollbot against a sandbox Slack and Kubernetes, with a Slack-like workspace in your
    browser: act as the requester, the lead, the DBA or a guest. Nothing is kept."""
    from bot.config.logs import configure_logging
    from rollbot.try_it import run_try

    configure_logging("console", "warning")
    run(lambda: run_try(open_browser))


def render_report(auditor: Any, fmt: str) -> str:
    from bot.usecases.reports import as_json, as_markdown

    if fmt == "json":
        return as_json(auditor)
    if fmt == "html":
        from integrations.reports.html import charts, page

        return page(auditor, charts(auditor))
    return as_markdown(auditor)


@app.command()
def report(
    month: Annotated[str | None, typer.Option(help="YYYY-MM; this month when left out")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, json or html")] = "md",
    deployments: Annotated[
        int | None, typer.Option(help="production deployments in the month (for the rates)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write here instead of printing")] = None,
) -> None:
    """The month's incident metrics for teams and auditors: counts, MTTR, success rate, trend.
    Reads ROLLBOT_DATABASE_URL."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bot.audit.keys import AuditSigner
    from bot.domain.reporting import Month
    from bot.ports import SystemClock
    from bot.store.uow import UnitOfWorkFactory
    from bot.usecases.reports import ReportService

    if fmt not in ("md", "json", "html"):
        raise fail(f"--format takes md, json or html, not {fmt!r}")
    now = datetime.now(UTC)
    try:
        chosen = Month.parse(month) if month else Month(year=now.year, month=now.month)
    except ValueError as exc:
        raise fail(str(exc)) from None

    async def work(engine: AsyncEngine) -> str:
        # Reading only: the signer is never asked to sign anything.
        uow = UnitOfWorkFactory(engine, AuditSigner(Ed25519PrivateKey.generate(), every=100))
        store = read_only_evidence_store()
        auditor = await ReportService(uow, SystemClock(), evidence=store).monthly(
            chosen, deployments
        )
        return render_report(auditor, fmt)

    text = on_database(work)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@sandbox_app.command("kube")
def sandbox_kube(
    port: Annotated[int, typer.Option(help="Port to bind on 127.0.0.1 (0: any free port)")] = 0,
    kubeconfig: Annotated[Path, typer.Option(help="Where to write a kubeconfig for it")] = Path(
        "sandbox.kubeconfig"
    ),
    rollout_seconds: Annotated[float, typer.Option(help="Simulated rollout time")] = 2.0,
) -> None:
    """Run the fake Kubernetes API server until interrupted."""
    from sandbox.kube.server import SandboxKube

    async def main() -> None:
        kube = SandboxKube(rollout_seconds=rollout_seconds)
        url = await kube.start(port)
        kube.write_kubeconfig(kubeconfig)
        typer.echo(f"sandbox Kubernetes API at {url}; kubectl --kubeconfig {kubeconfig}")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        await kube.stop()

    with contextlib.suppress(KeyboardInterrupt):
        run(main)


@sandbox_app.command("slack")
def sandbox_slack(
    port: Annotated[int, typer.Option(help="Port to bind on 127.0.0.1 (0: any free port)")] = 0,
    token: Annotated[str, typer.Option(help="Bot token the fake accepts")] = "xoxb-sandbox-token",
) -> None:
    """Run the fake Slack Web API until interrupted."""
    from sandbox.slack.server import SandboxSlack

    async def main() -> None:
        slack = SandboxSlack(token=token)
        url = await slack.start(port)
        typer.echo(f"sandbox Slack Web API at {url} (token {token})")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        await slack.stop()

    with contextlib.suppress(KeyboardInterrupt):
        run(main)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
