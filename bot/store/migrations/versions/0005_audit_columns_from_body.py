"""The audit log's query columns are computed by the database from the hashed body, so they can
never say something the chain does not (and verifying no longer compares them row by row).

Before the columns are replaced, every row's columns are checked against its body: a log whose
columns were edited is refused, so the migration never papers over a tampered entry.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The body's "at" is Python's isoformat in UTC ("...T09:00:00.000123+00:00", no fraction when
# it is zero); SQLite keeps datetimes as "YYYY-MM-DD HH:MM:SS.ffffff".
SQLITE_AT = (
    "replace(substr(json_extract(body, '$.at'), 1, 19), 'T', ' ') || CASE WHEN "
    "substr(json_extract(body, '$.at'), 20, 1) = '.' THEN substr(json_extract(body, '$.at'), 20, 7)"
    " ELSE '.000000' END"
)
SQLITE_COLUMNS = {
    "at": ("DATETIME NOT NULL", SQLITE_AT),
    "actor_id": ("VARCHAR(32) NOT NULL", "json_extract(body, '$.actor.id')"),
    "actor_name": ("VARCHAR(200) NOT NULL", "json_extract(body, '$.actor.name')"),
    "action": ("VARCHAR(64) NOT NULL", "json_extract(body, '$.action')"),
    "incident_id": ("VARCHAR(32)", "json_extract(body, '$.incident_id')"),
    "request_id": ("VARCHAR(32)", "json_extract(body, '$.request_id')"),
}
PG_AT_FUNCTION = (
    "CREATE OR REPLACE FUNCTION audit_entry_at(body text) RETURNS timestamptz "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ((body::jsonb) ->> 'at')::timestamptz $$"
)
PG_COLUMNS = {
    "at": ("timestamptz NOT NULL", "audit_entry_at(body)"),
    "actor_id": ("varchar(32) NOT NULL", "(body::jsonb) -> 'actor' ->> 'id'"),
    "actor_name": ("varchar(200) NOT NULL", "(body::jsonb) -> 'actor' ->> 'name'"),
    "action": ("varchar(64) NOT NULL", "(body::jsonb) ->> 'action'"),
    "incident_id": ("varchar(32)", "(body::jsonb) ->> 'incident_id'"),
    "request_id": ("varchar(32)", "(body::jsonb) ->> 'request_id'"),
}


def _refuse_if_columns_disagree(postgres: bool) -> None:
    columns = PG_COLUMNS if postgres else SQLITE_COLUMNS
    differs = " OR ".join(
        f"{name} IS DISTINCT FROM ({expr})" for name, (_, expr) in columns.items()
    )
    if not postgres:
        differs = differs.replace("IS DISTINCT FROM", "IS NOT")
    if postgres:
        op.execute(PG_AT_FUNCTION)
    found = (
        op.get_bind()
        .exec_driver_sql(f"SELECT min(seq) FROM audit_entries WHERE {differs}")
        .scalar()
    )
    if found is not None:
        raise RuntimeError(
            f"audit entry {found}'s query columns differ from its hashed body; the audit log was "
            "edited. Run `rollbot audit verify`; nothing was changed"
        )


def _sqlite_rebuild(columns: dict[str, tuple[str, str]], generated: bool) -> None:
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS audit_entries_no_{verb}")
    defs = ",\n  ".join(
        f"{name} {kind} GENERATED ALWAYS AS ({expr}) STORED" if generated else f"{name} {kind}"
        for name, (kind, expr) in columns.items()
    )
    op.execute(
        "CREATE TABLE audit_entries_next (\n  seq INTEGER NOT NULL PRIMARY KEY,\n"
        "  prev_hash VARCHAR(64) NOT NULL,\n  hash VARCHAR(64) NOT NULL,\n  body TEXT NOT NULL,\n"
        f"  {defs}\n)"
    )
    copied = "seq, prev_hash, hash, body" + ("" if generated else ", " + ", ".join(columns))
    op.execute(
        f"INSERT INTO audit_entries_next ({copied}) SELECT {copied} FROM audit_entries ORDER BY seq"
    )
    op.execute("DROP TABLE audit_entries")
    op.execute("ALTER TABLE audit_entries_next RENAME TO audit_entries")
    op.execute("CREATE INDEX ix_audit_entries_request_id ON audit_entries (request_id)")
    if generated:  # the entries that change how the chain is checked are found by action
        op.execute("CREATE INDEX ix_audit_entries_action ON audit_entries (action)")
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_entries_no_{verb.lower()} BEFORE {verb} ON audit_entries "
            f"BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: {verb} refused'); END"
        )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _refuse_if_columns_disagree(postgres)
    if not postgres:
        _sqlite_rebuild(SQLITE_COLUMNS, generated=True)
        return
    op.execute("DROP INDEX IF EXISTS ix_audit_entries_request_id")
    drops = ", ".join(f"DROP COLUMN {name}" for name in PG_COLUMNS)
    adds = ", ".join(
        f"ADD COLUMN {name} {kind} GENERATED ALWAYS AS ({expr}) STORED"
        for name, (kind, expr) in PG_COLUMNS.items()
    )
    op.execute(f"ALTER TABLE audit_entries {drops}, {adds}")
    op.execute("CREATE INDEX ix_audit_entries_request_id ON audit_entries (request_id)")
    op.execute("CREATE INDEX ix_audit_entries_action ON audit_entries (action)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_rebuild(SQLITE_COLUMNS, generated=False)
        return
    op.execute("DROP INDEX IF EXISTS ix_audit_entries_action")
    for name in PG_COLUMNS:
        op.execute(f"ALTER TABLE audit_entries ALTER COLUMN {name} DROP EXPRESSION")
    op.execute("DROP FUNCTION IF EXISTS audit_entry_at(text)")
