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


def test_a_restore_plan_says_what_it_loses() -> None:
    plan = db.DatabasePlan(
        database="shop", from_migration="0001", to_migration="0003", restore_from="RB-ABCD"
    )
    assert db.written_since({"orders": 4, "coupons": 0, "new": 2}, {"orders": 3, "coupons": 2}) == {
        "new": 2,
        "orders": 1,
    }
    text = db.restore_summary(
        plan, "2026-12-06 10:00 UTC", "ab" * 32, (("shop", 3),), {"orders": 1}
    )
    assert text.splitlines()[0].startswith(
        "Restore database `shop` from the backup taken by RB-ABCD at 2026-12-06 10:00 UTC"
    )
    assert "1. scale the application down: `shop` (3 → 0)" in text
    assert "lost by the restore: `orders` 1 row" in text
    quiet = db.restore_summary(plan, "?", "ab" * 32, (), {})
    assert "scale the application down: none declared" in quiet
    assert "lost by the restore: nothing (exact counts)" in quiet
    assert [s.number for s in db.RestoreStep] == [1, 2, 3, 4, 5]
    from bot.domain.targets import check_backup

    assert check_backup(" rb-abcd ") == "backup:RB-ABCD"
    with pytest.raises(InputError, match="--restore-backup takes the id"):
        check_backup("yesterday")
    assert (
        rollback_type_for(target_from("db/shop"), "backup:RB-ABCD") is RollbackType.DATABASE_RESTORE
    )


def test_a_changed_plan_says_what_changed() -> None:
    old = db.DatabasePlan(database="shop", from_migration="3", to_migration="1")
    new = old.model_copy(update={"from_migration": "2"})
    said = db.plan_change_reason("7", old, "deployment/shop -n prod", ("7", "6", new))
    assert said == (
        "the database part of the plan changed: it was `shop` migration 3 → 1, it is now "
        "`shop` migration 2 → 1"
    )
    gone = db.plan_change_reason("7", old, "deployment/shop -n prod", ("7", "6", None))
    assert gone.endswith("it is now no database step")
    moved = db.plan_change_reason("7", None, "deployment/shop -n prod", ("8", "6", None))
    assert moved.startswith("deployment/shop -n prod now runs revision 8, not revision 7")
    both = db.with_deployment_undo(
        "Database `shop`: …", "deployment/shop -n prod", "revision 2 → 1"
    )
    assert both.endswith(
        "5. then roll `deployment/shop -n prod` back: revision 2 → 1 (only once the schema check passed)"
    )
