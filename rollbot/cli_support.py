"""What every rollbot command shares: failing with one line, running async work, the database.

An ordinary mistake (an unreachable or missing database, a URL in another dialect, a busy port,
a command run before `rollbot db upgrade`) is one line naming the fix, exit code 3. Anything
else is a bug: one line asking for `--debug`, which shows the traceback, exit code 1."""

from __future__ import annotations

import asyncio
import errno
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from bot.audit.keys import AuditKeyError
from bot.config.policy_file import PolicyFileError
from bot.config.settings import DatabaseSettings, MissingSettingError, Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


@dataclass
class Flags:
    """Set by the top-level options before any command runs."""

    debug: bool = False


FLAGS = Flags()


class PortInUseError(Exception):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"port {port} on {host} is already in use: stop what holds it, or pass --port"
        )


def port_in_use(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"rollbot: {message}", err=True)
    return typer.Exit(code)


def settings_or_fail(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except MissingSettingError as exc:
        raise fail(str(exc)) from None


def run(main: Callable[[], Awaitable[T]]) -> T:
    # imported here, not at the top: `rollbot --version` and `--help` need no database code
    from bot.store.database_url import DatabaseUrlError, database_problem
    from bot.store.migrate import SchemaError
    from bot.usecases.audit_keys import AuditKeyMismatchError

    try:
        return asyncio.run(main())  # type: ignore[arg-type]
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except (SchemaError, PolicyFileError, AuditKeyError, AuditKeyMismatchError) as exc:
        raise fail(str(exc), 3) from None
    except (DatabaseUrlError, PortInUseError) as exc:
        raise fail(str(exc), 3) from None
    except Exception as exc:
        said = database_problem(exc, db_url())
        if FLAGS.debug:
            traceback.print_exception(exc)
        if said is not None:
            raise fail(said, 3) from None
        if FLAGS.debug:
            raise typer.Exit(1) from None
        raise fail(
            f"unexpected error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            1,
        ) from None


def db_url() -> str:
    """db commands need no Slack settings; read only the database URL."""
    return DatabaseSettings().database_url


def public_key_of(pem: Path | None) -> Any:
    from bot.audit.keys import AuditKeyError, load_public_key, load_signing_key

    if pem is not None:
        return load_public_key(pem.read_bytes())
    ops = DatabaseSettings()
    try:
        return load_signing_key(
            key_b64=ops.audit_signing_key, path=ops.audit_key_file, create=False
        ).public_key()
    except AuditKeyError as exc:
        raise fail(f"{exc}; or pass --public-key FILE.pem") from None


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    from bot.store.database_url import driver_url

    parsed = make_url(driver_url(url)[0])
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def on_database(
    work: Callable[[AsyncEngine], Awaitable[T]], *, creates: bool = False, needs_schema: bool = True
) -> T:
    """Run one operator task against ROLLBOT_DATABASE_URL, with an engine just for it. Only
    `creates` may bring a SQLite file into being; `needs_schema` refuses an unmigrated one."""
    from bot.store import migrate
    from bot.store.database_url import DatabaseUrlError
    from bot.store.engine import create_engine
    from bot.store.migrate import SchemaError

    url = db_url()
    try:
        missing = _sqlite_file(url)
    except DatabaseUrlError as exc:
        raise fail(str(exc), 3) from None
    if missing is not None and not missing.exists() and not creates:
        raise fail(
            f"no database at {missing}: run `rollbot db upgrade` to create it, or point "
            "ROLLBOT_DATABASE_URL at rollbot's database",
            3,
        )

    async def main() -> T:
        engine = create_engine(url)
        try:
            if needs_schema and (await migrate.schema_status(engine)).empty:
                raise SchemaError(
                    "the database has no rollbot schema yet: run `rollbot db upgrade` first, or "
                    "point ROLLBOT_DATABASE_URL at rollbot's database"
                )
            return await work(engine)
        finally:
            await engine.dispose()

    return run(main)


def read_only_evidence_store() -> Any:
    """The evidence store the settings name (S3 or the directory), for commands that only read
    it: the retention is never applied."""
    from datetime import timedelta

    from bot.ports import SystemClock
    from integrations.evidence.store import store_from

    return store_from(DatabaseSettings(), timedelta(days=1), SystemClock())
