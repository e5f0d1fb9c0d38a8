"""`rollbot serve | demo | db | sandbox`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config.policy_file import PolicyFileError
from bot.config.settings import DatabaseSettings, MissingSettingError, Settings, load_settings
from bot.store.migrate import SchemaError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Governed production rollbacks from Slack."
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
sandbox_app = typer.Typer(no_args_is_help=True, help="Run the in-repo fakes standalone.")
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit log.")
policy_app = typer.Typer(no_args_is_help=True, help="The approval policy file.")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")
app.add_typer(sandbox_app, name="sandbox")

T = TypeVar("T")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"rollbot: {message}", err=True)
    return typer.Exit(code)


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except MissingSettingError as exc:
        raise _fail(str(exc)) from None


def _run(main: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(main())  # type: ignore[arg-type]
    except (SchemaError, PolicyFileError) as exc:
        raise _fail(str(exc), 3) from None


def _db_settings() -> str:
    """db commands need no Slack settings; read only the database URL."""
    return DatabaseSettings().database_url


def _public_key(pem: Path | None) -> Any:
    from bot.audit.keys import AuditKeyError, load_public_key, load_signing_key

    if pem is not None:
        return load_public_key(pem.read_bytes())
    ops = DatabaseSettings()
    try:
        return load_signing_key(
            seed_b64=ops.audit_signing_key, path=ops.audit_key_file, create=False
        ).public_key()
    except AuditKeyError as exc:
        raise _fail(f"{exc}; or pass --public-key FILE.pem") from None


def _executors(settings: Settings) -> tuple[Any, Any]:
    if settings.executor == "kubernetes":
        from bot.config.policy_file import load_policy
        from integrations.kubernetes.deployment import KubernetesExecutor

        policy = load_policy(settings.policy_file)
        contexts = {
            name: svc.kube_context for name, svc in policy.services.items() if svc.kube_context
        }
        kube = KubernetesExecutor(
            kubeconfig=settings.kubeconfig,
            context=settings.kube_context,
            contexts=contexts,
            request_timeout=settings.kube_request_timeout_seconds,
        )

        def executors(versions: Any) -> dict[str, Any]:
            from integrations.kubernetes.configmap import KubernetesConfigMapExecutor
            from rollbot.bootstrap.executors import codedeploy_executor, flag_executor

            found = {
                "deployment": kube,
                "configmap": KubernetesConfigMapExecutor(kube, versions),
                "codedeploy": codedeploy_executor(settings),
            }
            flags = flag_executor(settings, versions)
            return found | ({"flag": flags} if flags is not None else {})

        return executors, None
    if settings.executor == "sandbox":
        from sandbox.executor import ScriptedExecutor, ScriptedVerifier

        scripted = ScriptedExecutor()
        return dict.fromkeys(
            ("deployment", "configmap", "codedeploy", "flag"), scripted
        ), ScriptedVerifier()
    return {}, None


@app.command()
def serve(
    port: Annotated[
        int, typer.Option(help="HTTP port for /slack/events, /healthz, /metrics")
    ] = 3000,
    host: Annotated[str, typer.Option(help="Address to bind")] = "0.0.0.0",
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="Connect to Slack over Socket Mode")
    ] = False,
) -> None:
    """Run the bot."""
    from bot.config.logs import configure_logging
    from rollbot.bootstrap.runtime import build_runtime

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    if socket_mode and not settings.slack_app_token:
        raise _fail("missing required setting SLACK_APP_TOKEN (needed for --socket-mode)")

    async def main() -> None:
        executors, verifier = _executors(settings)
        runtime = await build_runtime(settings, executors=executors, verifier=verifier)
        runtime.delivery.start()
        runtime.due.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        handler = None
        try:
            url = await runtime.serve_http(port, host)
            typer.echo(f"rollbot serving {url}", err=True)
            if socket_mode:
                from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

                handler = AsyncSocketModeHandler(runtime.bolt, settings.slack_app_token)
                await handler.connect_async()  # type: ignore[no-untyped-call]
            await stop.wait()
        finally:
            if handler is not None:
                await handler.close_async()  # type: ignore[no-untyped-call]
            await runtime.close()

    _run(main)


@app.command()
def demo(
    scenario: Annotated[
        str, typer.Option(help="Which incident to play: deployment (default) or flag")
    ] = "deployment",
) -> None:
    """Play a whole incident against the in-repo sandbox and print the channel transcript."""
    from rollbot.demo.incident import run_demo

    _run(lambda: run_demo(scenario))


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
    """The month's incident metrics for teams and auditors (seed 001 §5, seed 003 §9)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bot.audit.keys import AuditSigner
    from bot.domain.reporting import Month
    from bot.ports import SystemClock
    from bot.store.uow import UnitOfWorkFactory
    from bot.usecases.reports import ReportService

    if fmt not in ("md", "json", "html"):
        raise _fail(f"--format takes md, json or html, not {fmt!r}")
    now = datetime.now(UTC)
    try:
        chosen = Month.parse(month) if month else Month(year=now.year, month=now.month)
    except ValueError as exc:
        raise _fail(str(exc)) from None

    async def work(engine: AsyncEngine) -> str:
        # Reading only: the signer is never asked to sign anything.
        uow = UnitOfWorkFactory(engine, AuditSigner(Ed25519PrivateKey.generate(), every=100))
        auditor = await ReportService(uow, SystemClock()).monthly(chosen, deployments)
        return render_report(auditor, fmt)

    text = _on_database(work)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


def _on_database(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run one operator task against ROLLBOT_DATABASE_URL, with an engine just for it."""
    from bot.store.engine import create_engine

    async def main() -> T:
        engine = create_engine(_db_settings())
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return _run(main)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION."""
    from bot.store import migrate

    async def work(engine: AsyncEngine) -> str:
        await migrate.upgrade(engine, revision)
        return f"schema at {(await migrate.schema_status(engine)).current}"

    typer.echo(_on_database(work))


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Revert down to this revision (base: empty)")],
    drop_audit_log: Annotated[
        bool, typer.Option(help="Allow reverting the migration that holds the audit log")
    ] = False,
    yes: Annotated[bool, typer.Option(help="Do not ask before destroying the audit log")] = False,
) -> None:
    """Revert migrations down to REVISION. The audit log is never dropped by accident."""
    from bot.store import migrate

    async def loss(engine: AsyncEngine) -> migrate.AuditLoss:
        return await migrate.audit_loss(engine, revision)

    lost = _on_database(loss)
    if lost.migrations:
        what = (
            f"{lost.entries} audit entries and {lost.checkpoints} signed checkpoints "
            f"(reverting migration {', '.join(lost.migrations)})"
        )
        if not drop_audit_log:
            raise _fail(
                f"downgrading to {revision} destroys the audit log: {what}. "
                "Export it first (rollbot audit export), then pass --drop-audit-log"
            )
        typer.echo(f"This destroys {what}.")
        if not yes and not typer.confirm("Destroy the audit log?", default=False):
            raise _fail("nothing was changed")

    async def work(engine: AsyncEngine) -> str:
        await migrate.downgrade(engine, revision)
        return f"schema at {(await migrate.schema_status(engine)).current or 'base'}"

    typer.echo(_on_database(work))


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database."""
    from bot.store import migrate

    async def work(engine: AsyncEngine) -> str:
        status = await migrate.schema_status(engine)
        return f"current {status.current or 'base'} · head {status.head}"

    typer.echo(_on_database(work))


@policy_app.command("check")
def policy_check(files: Annotated[list[Path], typer.Argument(help="Policy files")]) -> None:
    """Validate policy files for CI: one `file:line: field: reason` line per problem; exit 1
    when any file has one."""
    from bot.config.policy_file import policy_errors

    bad = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            typer.echo(f"{path}: cannot read the policy file: {exc.strerror}")
            bad += 1
            continue
        _, errors = policy_errors(text, path)
        for error in errors:
            typer.echo(str(error))
        if errors:
            bad += 1
        else:
            typer.echo(f"{path}: OK")
    raise typer.Exit(1 if bad else 0)


@policy_app.command("show")
def policy_show(
    file: Annotated[
        Path | None, typer.Argument(help="Policy file (default: the one in use)")
    ] = None,
) -> None:
    """Print the effective policy: who holds each role, the matrix, who may do what, deadlines."""
    from bot.config.policy_file import load_policy
    from bot.domain.policy_check import describe_policy

    chosen = file or DatabaseSettings().policy_file
    try:
        typer.echo(describe_policy(load_policy(chosen)))
    except PolicyFileError as exc:
        raise _fail(str(exc), 3) from None


@audit_app.command("verify")
def audit_verify(
    export: Annotated[
        Path | None, typer.Option(help="Verify this export instead of the database")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="Pin the Ed25519 public key (PEM)")
    ] = None,
    trust_bundle_key: Annotated[
        bool, typer.Option(help="Verify an export with the key inside it (proves less)")
    ] = False,
) -> None:
    """Walk the hash chain, check every hash and signed checkpoint; exit 1 at the first bad entry."""
    from bot.audit.keys import load_public_key
    from bot.usecases.audit_export import verify_bundle, verify_database

    if export is not None:
        if public_key is None and not trust_bundle_key:
            # whoever re-signed a doctored bundle replaced the key inside it as well
            raise _fail(
                "verifying an export needs the public key you trust: --public-key FILE.pem "
                "(`rollbot audit public-key` on the running system prints it); "
                "--trust-bundle-key uses the bundle's own key instead"
            )
        pinned = load_public_key(public_key.read_bytes()) if public_key else None
        verdict = verify_bundle(export, pinned)
        if pinned is None:
            typer.echo(
                "Trusted the public key inside the bundle: this shows the bundle is consistent, "
                "not that rollbot signed it"
            )
    else:
        key = _public_key(public_key)
        verdict = _on_database(lambda engine: verify_database(engine, key))
    typer.echo(verdict.render())
    raise typer.Exit(0 if verdict.ok else 1)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option(help="Where to write the .tar.gz bundle")],
    since: Annotated[datetime | None, typer.Option(help="First moment included (UTC)")] = None,
    until: Annotated[datetime | None, typer.Option(help="First moment excluded (UTC)")] = None,
) -> None:
    """Export entries, checkpoints, the public key and a README on verifying them without rollbot."""
    from bot.usecases.audit_export import export_bundle

    key = _public_key(None)

    def utc(moment: datetime | None) -> datetime | None:
        return None if moment is None else moment.replace(tzinfo=moment.tzinfo or UTC)

    summary = _on_database(
        lambda engine: export_bundle(engine, key, out, since=utc(since), until=utc(until))
    )
    typer.echo(
        f"exported {summary.entries} entries and {summary.checkpoints} checkpoints to {summary.path}"
    )


@audit_app.command("public-key")
def audit_public_key() -> None:
    """Print the PEM public key that verifies this deployment's checkpoints."""
    from bot.audit.keys import public_pem

    typer.echo(public_pem(_public_key(None)).decode().rstrip())


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
        _run(main)


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
        _run(main)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
