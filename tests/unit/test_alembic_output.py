"""Alembic's output as the downgrade Job prints it: the offline preview without its log
records, the statements an online run executed, and whether the two agree."""

from __future__ import annotations

from integrations.database.alembic import Alembic, failure_of, preview_drift, unknown_revision

OFFLINE = """INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.
INFO  [alembic.runtime.migration] Generating static SQL
BEGIN;

INFO  [alembic.runtime.migration] Running downgrade 0002 -> 0001, coupons
-- Running downgrade 0002 -> 0001

DROP TABLE coupons;

ALTER TABLE orders DROP COLUMN discount;

UPDATE alembic_version SET version_num='0001' WHERE alembic_version.version_num = '0002';

COMMIT;
"""

ONLINE = """INFO  [sqlalchemy.engine.Engine] select pg_catalog.version()
INFO  [sqlalchemy.engine.Engine] [raw sql] ()
INFO  [alembic.runtime.migration] Running downgrade 0002 -> 0001, coupons
INFO  [sqlalchemy.engine.Engine]
DROP TABLE coupons
INFO  [sqlalchemy.engine.Engine] [no key 0.00010s] ()
INFO  [sqlalchemy.engine.Engine] ALTER TABLE orders DROP COLUMN discount
INFO  [sqlalchemy.engine.Engine] [no key 0.00008s] ()
INFO  [sqlalchemy.engine.Engine] UPDATE alembic_version SET version_num=$1::VARCHAR WHERE alembic_version.version_num = $2::VARCHAR
INFO  [sqlalchemy.engine.Engine] [generated in 0.0001s] ('0001', '0002')
INFO  [sqlalchemy.engine.Engine] COMMIT
"""


def test_the_preview_is_the_sql_without_log_records() -> None:
    sql = Alembic().preview_sql(OFFLINE)
    assert "INFO" not in sql
    assert sql.startswith("BEGIN;")
    assert "DROP TABLE coupons;" in sql


def test_the_statements_an_online_run_executed() -> None:
    assert Alembic().statements_run(ONLINE) == [
        "DROP TABLE coupons",
        "ALTER TABLE orders DROP COLUMN discount",
        "UPDATE alembic_version SET version_num=$1::VARCHAR WHERE "
        "alembic_version.version_num = $2::VARCHAR",
    ]


def test_the_preview_matches_what_ran_and_says_where_not() -> None:
    tool = Alembic()
    ran = tool.statements_run(ONLINE)
    assert preview_drift(tool.preview_sql(OFFLINE), ran, "alembic_version") == ([], [])
    fewer = [s for s in ran if "coupons" not in s] + ["DROP TABLE orders"]
    not_run, unplanned = preview_drift(tool.preview_sql(OFFLINE), fewer, "alembic_version")
    assert not_run == ["DROP TABLE coupons"]
    assert unplanned == ["DROP TABLE orders"]


def test_why_a_run_failed_and_an_unknown_revision() -> None:
    log = "INFO  [alembic] Running downgrade\nTraceback:\nsqlalchemy.exc.DBAPIError: cannot drop column\n  more"
    assert failure_of(log) == "sqlalchemy.exc.DBAPIError: cannot drop column"
    assert failure_of("") == "the Job printed nothing"
    assert unknown_revision("FAILED: Can't locate revision identified by '9999'")
    assert not unknown_revision(log)
    assert Alembic().preview_command("alembic.ini", "3", "1")[-2:] == ("3:1", "--sql")
