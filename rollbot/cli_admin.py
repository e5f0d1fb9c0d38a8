"""`rollbot db …` and `rollbot policy …`: the schema and the policy file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.config.policy_file import PolicyFileError
from bot.config.settings import DatabaseSettings
from rollbot.cli_support import fail, on_database

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

db_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Database schema. Reads ROLLBOT_DATABASE_URL.",
)
policy_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="The approval policy file."
)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION."""
    from bot.store import migrate

    async def work(engine: AsyncEngine) -> str:
        await migrate.upgrade(engine, revision)
        return f"schema at {(await migrate.schema_status(engine)).current}"

    typer.echo(on_database(work, creates=True, needs_schema=False))


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

    lost = on_database(loss)
    if lost.migrations:
        what = (
            f"{lost.entries} audit entries and {lost.checkpoints} signed checkpoints "
            f"(reverting migration {', '.join(lost.migrations)})"
        )
        if not drop_audit_log:
            raise fail(
                f"downgrading to {revision} destroys the audit log: {what}. "
                "Export it first (rollbot audit export), then pass --drop-audit-log"
            )
        typer.echo(f"This destroys {what}.")
        if not yes and not typer.confirm("Destroy the audit log?", default=False):
            raise fail("nothing was changed")

    async def work(engine: AsyncEngine) -> str:
        await migrate.downgrade(engine, revision)
        return f"schema at {(await migrate.schema_status(engine)).current or 'base'}"

    typer.echo(on_database(work))


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database."""
    from bot.store import migrate

    async def work(engine: AsyncEngine) -> str:
        status = await migrate.schema_status(engine)
        return f"current {status.current or 'base'} · head {status.head}"

    typer.echo(on_database(work, needs_schema=False))


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
        raise fail(str(exc), 3) from None
