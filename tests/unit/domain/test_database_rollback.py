"""What a downgrade's SQL drops and costs, the plan the approvers read, and the comparisons of
the two snapshots; the database target and its migration as people write them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.domain import database_rollback as db
from bot.domain.database_policy import DatabasePolicy, SecretKey
from bot.domain.policy import ApprovalPolicy, Role, RollbackType
from bot.domain.targets import InputError, check_migration, rollback_type_for, target_from

PREVIEW = """BEGIN;

-- Running downgrade 0002_discount -> 0001_orders

DROP TABLE coupons;

ALTER TABLE public."Orders" DROP COLUMN IF EXISTS discount;

ALTER TABLE orders
    DROP COLUMN "Gift Note";

DROP TABLE IF EXISTS empty_one;

ALTER TABLE orders ADD COLUMN note TEXT;

UPDATE alembic_version SET version_num='0001_orders';

DROP TABLE alembic_version;

COMMIT;
"""


def test_what_the_sql_drops() -> None:
    assert db.dropped_by(PREVIEW) == (
        db.Dropped(table="coupons"),
        db.Dropped(table="Orders", column="discount"),
        db.Dropped(table="orders", column="Gift Note"),
        db.Dropped(table="empty_one"),
    )


def test_expected_loss_counts_only_what_holds_data() -> None:
    losses = db.expected_loss(
        db.dropped_by(PREVIEW),
        {"coupons": 2, "empty_one": 0},
        {"Orders.discount": 1, "orders.Gift Note": 0},
    )
    assert [x.said for x in losses] == [
        "table `coupons` (2 rows)",
        "column `Orders.discount` (1 row with a value)",
    ]


def test_row_changes_and_schema_diff() -> None:
    changes = db.row_changes(
        {"orders": 3, "coupons": 2, "same": 1}, {"orders": 1, "new": 4, "same": 1}
    )
    assert changes == (
        "coupons: 2 rows before, table dropped",
        "new: new table, 4 rows",
        "orders: 3 rows before, 1 row after",
    )
    diff = db.schema_diff("a\nb\n", "a\n")
    assert "--- schema-before.sql" in diff
    assert "-b" in diff
    assert db.schema_diff("same\n", "same\n") == ""


def test_the_plan_names_every_step_the_loss_and_the_sql() -> None:
    losses = (db.DataLoss(dropped=db.Dropped(table="coupons"), rows=2),)
    text = db.plan_summary("shop", "0003", "0001", losses, PREVIEW, "shop:2.0.0")
    assert text.splitlines()[0] == "Database `shop`: migration 0003 → 0001"
    assert "1. full backup" in text
    assert (
        "3. downgrade `shop` from migration 0003 to 0001 in a Kubernetes Job running shop:2.0.0"
        in text
    )
    assert "Expected data loss: table `coupons` (2 rows)" in text
    assert "DROP TABLE coupons;" in text
    assert "Expected data loss: none" in db.plan_summary("shop", "2", "1", (), "", "i")
    long = "\n".join(f"ALTER TABLE t{i} ADD COLUMN c TEXT;" for i in range(40))
    assert "… 15 more lines in the evidence pack" in db.preview_excerpt(long)
    assert [s.number for s in db.DatabaseStep] == [1, 2, 3, 4]


def test_a_database_target_and_its_migration() -> None:
    target = target_from("db/shop")
    assert (target.kind, target.name, target.namespace) == ("database", "shop", None)
    assert rollback_type_for(target, "0001") is RollbackType.DATABASE
    with pytest.raises(InputError, match="not a database name"):
        target_from("database/Shop!")
    assert check_migration("base") == "base"
    with pytest.raises(InputError, match="--to-migration takes a migration revision id"):
        check_migration("-1; DROP")


def test_the_database_policy() -> None:
    given = {
        "dsn_env": "SHOP_DSN",
        "dsn_secret": {"name": "shop-db", "key": "url"},
        "deployments": ["shop"],
        "namespace": "prod",
    }
    policy = ApprovalPolicy.model_validate({"databases": {"shop": given}})
    assert policy.databases["shop"].dsn_secret == SecretKey(name="shop-db", key="url")
    assert policy.row(RollbackType.DATABASE).requires == (Role.DBA, Role.ENGINEERING_LEAD)
    with pytest.raises(ValidationError, match="not an environment variable name"):
        DatabasePolicy.model_validate({**given, "dsn_env": "shop-dsn"})
    with pytest.raises(ValidationError, match="not a Kubernetes namespace"):
        DatabasePolicy.model_validate({**given, "namespace": "Prod"})
    with pytest.raises(ValidationError, match="at least 1 item"):
        DatabasePolicy.model_validate({**given, "deployments": []})


def test_a_database_target_answers_the_trees_migration_questions() -> None:
    from bot.domain.decision import DecisionAnswers, answered_by_target, decide_rollback_or_fix
    from bot.domain.severity import Severity

    given = DecisionAnswers()
    assert answered_by_target(given, "deployment", 10) == given
    quick = answered_by_target(given, "database", 10)
    assert (quick.issue_in_deployment, quick.database_migration, quick.restore_minutes) == (
        False,
        True,
        10,
    )
    told = answered_by_target(DecisionAnswers(restore_minutes=45), "database", 10)
    assert told.restore_minutes == 45  # what the responder said wins over the policy
    unknown = decide_rollback_or_fix(
        answered_by_target(given, "database", None).for_severity(Severity.P2)
    )
    assert unknown.reason == "restore data and ship patched code"
    assert decide_rollback_or_fix(quick.for_severity(Severity.P2)).reason == (
        "restore the pre-migration backup"
    )
