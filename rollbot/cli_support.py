"""What every rollbot command shares: failing with one line, running async work, the database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit.keys import AuditKeyError
from bot.config.policy_file import PolicyFileError
from bot.config.settings import DatabaseSettings, MissingSettingError, Settings, load_settings
from bot.store.migrate import SchemaError
from bot.usecases.audit_keys import AuditKeyMismatchError

T = TypeVar("T")


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"rollbot: {message}", err=True)
    return typer.Exit(code)


def settings_or_fail(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except MissingSettingError as exc:
        raise fail(str(exc)) from None


def run(main: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(main())  # type: ignore[arg-type]
    except (SchemaError, PolicyFileError, AuditKeyError, AuditKeyMismatchError) as exc:
        raise fail(str(exc), 3) from None


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
            seed_b64=ops.audit_signing_key, path=ops.audit_key_file, create=False
        ).public_key()
    except AuditKeyError as exc:
        raise fail(f"{exc}; or pass --public-key FILE.pem") from None


def on_database(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run one operator task against ROLLBOT_DATABASE_URL, with an engine just for it."""
    from bot.store.engine import create_engine

    async def main() -> T:
        engine = create_engine(db_url())
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return run(main)
