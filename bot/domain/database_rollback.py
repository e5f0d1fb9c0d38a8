"""A database migration rollback as the runbook orders it: full backup first, schema and exact
row counts, the downgrade, then the schema check. Pure: what the downgrade's SQL drops, what
that costs in rows, what the card says, and what changed between the two snapshots."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

_IDENT = r'(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*))?'
_DROP_TABLE = re.compile(rf"^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?({_IDENT})", re.I)
_DROP_COLUMN = re.compile(
    rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?({_IDENT})\s+DROP\s+(?:COLUMN\s+)?"
    rf"(?:IF\s+EXISTS\s+)?({_IDENT})",
    re.I,
)
# The card's SQL preview is cut here (Slack's section text limit is 3000 characters); the whole
# preview is in the evidence pack.
PREVIEW_LINES = 25


class DatabaseStep(StrEnum):
    """The plan's steps, in the runbook's order; a failed step stops the plan there."""

    BACKUP = "backup"
    SNAPSHOT = "schema snapshot and row counts"
    DOWNGRADE = "downgrade"
    CHECK = "schema check"

    @property
    def number(self) -> int:
        return list(DatabaseStep).index(self) + 1


class DatabasePlan(BaseModel):
    """The database part of an approved plan: which database, from which migration to which.
    The plan is checked again before it runs; a database that moved is a changed plan."""

    model_config = ConfigDict(frozen=True)

    database: str
    from_migration: str
    to_migration: str
    # a restore: the request whose backup is put back (to_migration is the backup's)
    restore_from: str | None = None


class RestoreStep(StrEnum):
    """A restore from the backup, in order; a failed step stops it there."""

    SCALE_DOWN = "scale the application down"
    SNAPSHOT = "row counts before the restore"
    RESTORE = "restore"
    CHECK = "schema and row check"
    SCALE_UP = "scale the application back up"

    @property
    def number(self) -> int:
        return list(RestoreStep).index(self) + 1


def written_since(now: Mapping[str, int], backup: Mapping[str, int]) -> dict[str, int]:
    """Rows each table holds now beyond what the backup holds: what a restore discards."""
    return {t: n - backup.get(t, 0) for t, n in sorted(now.items()) if n > backup.get(t, 0)}


def restore_summary(
    plan: DatabasePlan,
    taken_at: str,
    sha256: str,
    apps: tuple[tuple[str, int], ...],
    lost: Mapping[str, int],
) -> str:
    """What the approvers read before a restore: the backup, the steps, what is lost."""
    down = ", ".join(f"`{name}` ({n} → 0)" for name, n in apps) or "none declared"
    loss = (
        "Written since the backup and lost by the restore: "
        + "; ".join(f"`{t}` {_rows(n)}" for t, n in lost.items())
        if lost
        else "Written since the backup and lost by the restore: nothing (exact counts)"
    )
    return "\n".join(
        [
            f"Restore database `{plan.database}` from the backup taken by {plan.restore_from} at "
            f"{taken_at} (migration {plan.to_migration}, sha256 {sha256[:16]}…); it is at "
            f"migration {plan.from_migration} now",
            f"1. scale the application down: {down}",
            "2. exact row counts of every table",
            "3. pg_restore --clean --if-exists from the backup (its sha256 checked first)",
            f"4. check the migration is {plan.to_migration} and compare row counts",
            "5. scale the application back up",
            loss,
        ]
    )


class Dropped(BaseModel):
    """A table, or one column of it, that a downgrade's SQL drops."""

    model_config = ConfigDict(frozen=True)

    table: str
    column: str | None = None


class DataLoss(BaseModel):
    """What a drop costs: the table's rows, or the rows holding a value in the column."""

    model_config = ConfigDict(frozen=True)

    dropped: Dropped
    rows: int

    @property
    def said(self) -> str:
        d = self.dropped
        if d.column is None:
            return f"table `{d.table}` ({_rows(self.rows)})"
        return f"column `{d.table}.{d.column}` ({_rows(self.rows)} with a value)"


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


def _name(ident: str) -> str:
    """`public."Orders"` → `Orders`: the table as the row counts name it (public schema)."""
    last = ident.split(".")[-1]
    return last[1:-1] if last.startswith('"') else last.lower()


def statements(sql: str) -> list[str]:
    """The SQL statements of an offline migration script, comments dropped, one per entry."""
    text = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


def dropped_by(sql: str) -> tuple[Dropped, ...]:
    """The tables and columns the downgrade's SQL drops, in the order it drops them. The
    bookkeeping table of the migration tool is not data."""
    found: list[Dropped] = []
    for statement in statements(sql):
        one_line = " ".join(statement.split())
        if m := _DROP_TABLE.match(one_line):
            found.append(Dropped(table=_name(m.group(1))))
        elif m := _DROP_COLUMN.match(one_line):
            found.append(Dropped(table=_name(m.group(1)), column=_name(m.group(2))))
    return tuple(d for d in found if d.table != "alembic_version")


def expected_loss(
    dropped: tuple[Dropped, ...], tables: Mapping[str, int], columns: Mapping[str, int]
) -> tuple[DataLoss, ...]:
    """The rows each drop would lose, from exact counts (`columns` keyed `table.column`). A
    table with no rows, or a column holding no value, loses nothing and is left out."""
    losses = []
    for d in dropped:
        rows = (
            tables.get(d.table, 0) if d.column is None else columns.get(f"{d.table}.{d.column}", 0)
        )
        if rows:
            losses.append(DataLoss(dropped=d, rows=rows))
    return tuple(losses)


def row_changes(before: Mapping[str, int], after: Mapping[str, int]) -> tuple[str, ...]:
    """Each table whose exact row count differs after the downgrade, or that is gone."""
    lines = []
    for table in sorted(before.keys() | after.keys()):
        was, now = before.get(table), after.get(table)
        if was == now:
            continue
        if now is None:
            lines.append(f"{table}: {_rows(was or 0)} before, table dropped")
        elif was is None:
            lines.append(f"{table}: new table, {_rows(now)}")
        else:
            lines.append(f"{table}: {_rows(was)} before, {_rows(now)} after")
    return tuple(lines)


def schema_diff(before: str, after: str) -> str:
    """The unified diff of two schema dumps, as a DBA reads it."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            "schema-before.sql",
            "schema-after.sql",
        )
    )


def preview_excerpt(sql: str) -> str:
    """The first statements of the SQL preview, for the card."""
    lines = [line for line in sql.splitlines() if line.strip()]
    shown = "\n".join(lines[:PREVIEW_LINES])
    more = len(lines) - PREVIEW_LINES
    return shown + (f"\n… {more} more lines in the evidence pack" if more > 0 else "")


def plan_summary(
    database: str, live: str, target: str, losses: tuple[DataLoss, ...], preview: str, image: str
) -> str:
    """What the approvers read on the card before they approve."""
    loss = (
        "Expected data loss: " + "; ".join(x.said for x in losses)
        if losses
        else "Expected data loss: none (the downgrade drops no table or column holding data)"
    )
    steps = [
        f"{DatabaseStep.BACKUP.number}. full backup (pg_dump, custom format) into the evidence store",
        f"{DatabaseStep.SNAPSHOT.number}. schema dump and exact row counts of every table",
        f"{DatabaseStep.DOWNGRADE.number}. downgrade `{database}` from migration {live} to "
        f"{target} in a Kubernetes Job running {image}",
        f"{DatabaseStep.CHECK.number}. check the migration is {target}, compare row counts, "
        "run the service's checks",
    ]
    return "\n".join(
        [
            f"Database `{database}`: migration {live} → {target}",
            *steps,
            loss,
            f"SQL preview:\n```{preview_excerpt(preview)}```",
        ]
    )


def with_deployment_undo(database_summary: str, deployment: str, undo: str) -> str:
    """The database steps, then the deployment undo: one plan on one card."""
    return (
        f"{database_summary}\n{len(DatabaseStep) + 1}. then roll `{deployment}` back: {undo} "
        "(only once the schema check passed)"
    )


def plan_change_reason(
    approved_revision: str | None,
    approved_database: DatabasePlan | None,
    label: str,
    fresh: tuple[str | None, str | None, DatabasePlan | None],
) -> str:
    """Why the plan checked right before execution is not the approved one, in the target's
    terms: the revision it runs, or the database part of the plan."""
    live, to, database = fresh
    if live == approved_revision and database != approved_database:
        was = _said(approved_database)
        return f"the database part of the plan changed: it was {was}, it is now {_said(database)}"
    return (
        f"{label} now runs revision {live or 'unknown'}, not revision "
        f"{approved_revision or 'unknown'} the approvals were given for; the plan is now "
        f"revision {live or '?'} → {to or '?'}"
    )


def _said(plan: DatabasePlan | None) -> str:
    if plan is None:
        return "no database step"
    return f"`{plan.database}` migration {plan.from_migration} → {plan.to_migration}"
