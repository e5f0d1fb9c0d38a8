"""Database URLs as operators write them, and database failures in their words.

People paste the URL their platform gives them: `postgres://…` (Heroku, many PaaS),
`postgresql://…` (libpq, psql), with libpq's `sslmode`/`sslrootcert` options. SQLAlchemy would
look for a sync driver (psycopg) or hand `sslmode` to asyncpg as an unknown argument; rollbot
runs on asyncpg and aiosqlite, so the URL is read for those, with libpq's TLS options mapped to
asyncpg's (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-SSLMODE).
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

from sqlalchemy.engine import URL, make_url

_TLS_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey")
# libpq's sslmode values asyncpg takes as they are, when no certificate file is named
_PLAIN_MODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})


class DatabaseUrlError(ValueError):
    """ROLLBOT_DATABASE_URL cannot be used as written; the message says how to write it."""


def _tls(query: dict[str, str]) -> str | ssl.SSLContext | None:
    mode = query.get("sslmode")
    if mode is not None and mode not in _PLAIN_MODES:
        raise DatabaseUrlError(
            f"ROLLBOT_DATABASE_URL has sslmode={mode}; use one of "
            "disable, allow, prefer, require, verify-ca, verify-full"
        )
    files = {k: query[k] for k in ("sslrootcert", "sslcert", "sslkey") if k in query}
    if not files:
        return mode
    if mode == "disable":
        return mode
    context = ssl.create_default_context(cafile=files.get("sslrootcert"))
    # libpq: require and verify-ca check the certificate chain, only verify-full the host name
    context.check_hostname = mode in (None, "verify-full")
    if "sslcert" in files:
        context.load_cert_chain(files["sslcert"], files.get("sslkey"))
    return context


def _parse(url: str) -> URL:
    """The URL as SQLAlchemy reads it, with `postgres://` (Heroku's spelling) understood."""
    return make_url(url.replace("postgres://", "postgresql://", 1))


def driver_url(url: str) -> tuple[str, dict[str, Any]]:
    """The URL for rollbot's async drivers, and the connect arguments it implies."""
    try:
        parsed = _parse(url)
    except Exception as exc:
        raise DatabaseUrlError(
            "ROLLBOT_DATABASE_URL is not a database URL; write it like "
            "postgresql://user@host:5432/rollbot or sqlite:///rollbot.db"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(False), {}
    if backend != "postgresql":
        raise DatabaseUrlError(
            f"ROLLBOT_DATABASE_URL names {backend}; rollbot runs on PostgreSQL or SQLite"
        )
    query = {k: str(v) for k, v in parsed.query.items() if isinstance(v, str)}
    tls = _tls(query)
    kept = {k: v for k, v in parsed.query.items() if k not in _TLS_OPTIONS}
    cleaned = parsed.set(drivername="postgresql+asyncpg", query=kept)
    return cleaned.render_as_string(False), ({"ssl": tls} if tls is not None else {})


def _where(url: str) -> str:
    try:
        parsed = _parse(url)
    except Exception:
        return "the database"
    if parsed.get_backend_name() == "sqlite":
        return f"the SQLite file {parsed.database or ':memory:'}"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def database_problem(exc: BaseException, url: str) -> str | None:
    """One line for an ordinary database failure (and what to do), or None when it is not one."""
    where = _where(url)
    for cause in _chain(exc):
        name = type(cause).__name__
        if name == "InvalidCatalogNameError":
            database = _parse(url).database
            return (
                f'database "{database}" does not exist on {where}: create it '
                f"(createdb {database}) or fix ROLLBOT_DATABASE_URL"
            )
        if name in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
            return f"{where} refused rollbot's login ({cause}): check the user and password in ROLLBOT_DATABASE_URL"
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve the database host in ROLLBOT_DATABASE_URL ({cause})"
        if isinstance(cause, ConnectionRefusedError):
            return f"cannot reach the database at {where} (connection refused): check ROLLBOT_DATABASE_URL and that the server is running"
        if isinstance(cause, TimeoutError):
            return f"the database at {where} did not answer in time: check ROLLBOT_DATABASE_URL and the network"
        if name == "OperationalError" and "unable to open database file" in str(cause):
            return f"cannot open {where}: its directory must exist and be writable"
    return None
