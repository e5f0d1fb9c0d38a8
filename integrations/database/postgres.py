"""PostgreSQL as the database rollback reads it: the migration it is at, exact row counts, a
schema dump and a full backup, each with its own timeout.

Row counts are `SELECT count(*)`, not `pg_stat_user_tables.n_live_tup`: the statistics are
estimates and the counters cumulative, and "no data lost" must be measured. The dumps run the
real `pg_dump` (custom format for the backup, `--schema-only` for the schema); the password goes
in the child's environment (PGPASSWORD), never on its command line where `ps` shows it."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import asyncpg  # type: ignore[import-untyped]

from bot.ports import TargetUnavailableError

# pg_dump 15.14 and later write a random `\restrict` key into every plain dump; it is not
# schema, and two dumps of one schema must compare equal.
_NOT_SCHEMA = ("\\restrict", "\\unrestrict")


@dataclass(frozen=True)
class Dsn:
    host: str
    port: int
    user: str
    password: str | None
    database: str

    @classmethod
    def parse(cls, url: str) -> Dsn:
        """`postgresql://` or SQLAlchemy's `postgresql+asyncpg://`."""
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres") or not parts.path.strip("/"):
            raise TargetUnavailableError(
                "the database's DSN is not a postgresql://user@host:port/database URL"
            )
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password else None,
            database=parts.path.strip("/"),
        )

    def child_environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env |= {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.database,
        }
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresDatabase:
    def __init__(self, dsn: Dsn, *, timeout: float = 30.0) -> None:
        self.dsn = dsn
        self.timeout = timeout

    async def _connect(self) -> asyncpg.Connection:
        d = self.dsn
        try:
            return await asyncpg.connect(
                host=d.host,
                port=d.port,
                user=d.user,
                password=d.password,
                database=d.database,
                timeout=self.timeout,
                command_timeout=self.timeout,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            raise TargetUnavailableError(
                f"could not connect to database `{d.database}` on {d.host}:{d.port}: {exc}"
            ) from None

    async def migration(self, table: str = "alembic_version") -> str:
        """The migration the database is at (`base`: none applied)."""
        conn = await self._connect()
        try:
            exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
            if not exists:
                return "base"
            found = await conn.fetchval(f"SELECT version_num FROM {_quoted(table)} LIMIT 1")
            return str(found) if found else "base"
        finally:
            await conn.close()

    async def row_counts(self, *, skip: tuple[str, ...] = ("alembic_version",)) -> dict[str, int]:
        """Exact rows of every table in the public schema."""
        conn = await self._connect()
        try:
            tables = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
            counts = {}
            for row in tables:
                name = row["tablename"]
                if name not in skip:
                    counts[name] = int(await conn.fetchval(f"SELECT count(*) FROM {_quoted(name)}"))
            return counts
        finally:
            await conn.close()

    async def values_in(self, columns: list[tuple[str, str]]) -> dict[str, int]:
        """Rows holding a value in each (table, column), keyed `table.column`; a column that
        does not exist holds nothing."""
        conn = await self._connect()
        try:
            found = {}
            for table, column in columns:
                present = await conn.fetchval(
                    "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                    "'public' AND table_name = $1 AND column_name = $2",
                    table,
                    column,
                )
                found[f"{table}.{column}"] = (
                    int(
                        await conn.fetchval(
                            f"SELECT count(*) FROM {_quoted(table)} "
                            f"WHERE {_quoted(column)} IS NOT NULL"
                        )
                    )
                    if present
                    else 0
                )
            return found
        finally:
            await conn.close()

    async def size(self) -> int:
        """The database's size on disk: the estimate a backup must have room for."""
        conn = await self._connect()
        try:
            return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
        finally:
            await conn.close()

    async def _run(
        self, args: list[str], limit_seconds: float, *, tool: str = "pg_dump", given: bytes = b""
    ) -> bytes:
        proc = await asyncio.create_subprocess_exec(
            tool,
            *args,
            env=self.dsn.child_environment(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(given), limit_seconds)
        except TimeoutError:
            proc.kill()
            await proc.communicate()
            raise TargetUnavailableError(
                f"{tool} did not finish within {int(limit_seconds)} s"
            ) from None
        if proc.returncode != 0:
            said = err.decode(errors="replace").strip().splitlines()
            raise TargetUnavailableError(f"{tool} failed: {said[-1] if said else proc.returncode}")
        return out

    async def backup(self, limit_seconds: float) -> bytes:
        return await self._run(["--format=custom", "--no-password"], limit_seconds)

    async def restore(self, dump: bytes, limit_seconds: float) -> None:
        """`pg_restore --clean --if-exists` of a custom-format backup, in one transaction: it
        is all put back, or nothing is."""
        args = ["--clean", "--if-exists", "--no-owner", "--single-transaction", "--no-password"]
        await self._run(
            [*args, "--dbname", self.dsn.database], limit_seconds, tool="pg_restore", given=dump
        )

    async def schema(self) -> str:
        raw = await self._run(
            ["--schema-only", "--no-owner", "--no-privileges", "--no-password"],
            self.timeout,
        )
        lines = raw.decode().splitlines(keepends=True)
        return "".join(line for line in lines if not line.startswith(_NOT_SCHEMA))
