"""Alembic as a migration tool the downgrade Job runs, and what its output means. Pure.

- `alembic downgrade <from>:<to> --sql` is offline mode: it prints the SQL of the range without
  connecting (alembic/command.py `downgrade`, "a range is required" offline), each migration's
  statements under a `-- Running downgrade A -> B` comment.
- Online, the statements Alembic runs are logged by the `sqlalchemy.engine` logger at INFO
  (SQLAlchemy's engine logging), one record per statement, followed by a `[generated in …]` or
  `[cached since …]` parameter record.
- Log records are formatted `%(levelname)-5.5s [%(name)s] %(message)s` in Alembic's generated
  alembic.ini; a record's continuation lines have no prefix.
- The version table is `alembic_version` (`version_num`)."""

from __future__ import annotations

import re
from typing import Protocol

from bot.domain.database_rollback import statements

_RECORD = re.compile(r"^(INFO|WARNI|WARN|ERROR|DEBUG|CRITI)\s*\[([\w.]+)\]\s?(.*)$")
_CHANGES = re.compile(r"^(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE|TRUNCATE|COMMENT)\b", re.I)


class MigrationTool(Protocol):
    """What rollbot asks of a migration tool (Alembic here; Flyway or Liquibase would answer
    the same questions with their own commands)."""

    version_table: str

    def preview_command(self, config: str, live: str, target: str) -> tuple[str, ...]: ...

    def downgrade_command(self, config: str, target: str) -> tuple[str, ...]: ...

    def preview_sql(self, log: str) -> str: ...

    def statements_run(self, log: str) -> list[str]: ...


def _records(log: str) -> list[tuple[str, str]]:
    """(logger, message) of every log record, continuation lines joined; other lines (the SQL
    Alembic prints offline) are records of logger ''."""
    found: list[tuple[str, str]] = []
    for line in log.splitlines():
        m = _RECORD.match(line)
        if m:
            found.append((m.group(2), m.group(3)))
        elif found and found[-1][0].startswith("sqlalchemy.engine") and line.strip():
            found[-1] = (found[-1][0], found[-1][1] + "\n" + line)
        else:
            found.append(("", line))
    return found


def _comparable(statement: str) -> str:
    return " ".join(statement.split()).rstrip(";")


class Alembic:
    version_table = "alembic_version"

    def preview_command(self, config: str, live: str, target: str) -> tuple[str, ...]:
        return ("alembic", "-c", config, "downgrade", f"{live}:{target}", "--sql")

    def downgrade_command(self, config: str, target: str) -> tuple[str, ...]:
        return ("alembic", "-c", config, "downgrade", target)

    def preview_sql(self, log: str) -> str:
        """The SQL an offline run printed, without its log records."""
        return "\n".join(text for logger, text in _records(log) if not logger).strip() + "\n"

    def statements_run(self, log: str) -> list[str]:
        """The statements an online run executed that change schema or data, in order."""
        ran = []
        for logger, text in _records(log):
            if logger.startswith("sqlalchemy.engine") and _CHANGES.match(text.strip()):
                ran.append(text.strip())
        return ran


def changes_of(sql: str) -> list[str]:
    """The statements of a preview that change schema or data."""
    return [s for s in statements(sql) if _CHANGES.match(s)]


def preview_drift(preview: str, ran: list[str], version_table: str) -> tuple[list[str], list[str]]:
    """(previewed but not run, run but not previewed), whitespace aside. The version table's
    updates differ only in how their values are bound (literals offline, parameters online)."""

    def ours(statement: str) -> bool:
        return version_table not in statement

    planned = [_comparable(s) for s in changes_of(preview) if ours(s)]
    done = [_comparable(s) for s in ran if ours(s)]
    return [s for s in planned if s not in done], [s for s in done if s not in planned]


def failure_of(log: str) -> str:
    """The line that says why a run failed (the last exception line), for the escalation."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"(Error|Exception|FAILED)\b", line)]
    return (errors or lines or ["the Job printed nothing"])[-1][:500]


def unknown_revision(log: str) -> bool:
    return "Can't locate revision identified by" in log or "is not present" in log
