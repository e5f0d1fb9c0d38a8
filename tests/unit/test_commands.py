"""The /rollback grammar."""

from __future__ import annotations

import pytest

from bot.domain.policy import RollbackType
from bot.domain.request import TargetRef
from bot.domain.severity import Severity
from bot.usecases.commands import (
    ListOpen,
    OpenForm,
    OpenRollback,
    ShowDrills,
    ShowHelp,
    ShowStatus,
)
from handlers.slack.grammar import CommandError, parse_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", OpenForm()),
        ("   ", OpenForm()),
        ("help", ShowHelp()),
        ("list", ListOpen()),
        ("status", ShowStatus(request_id=None)),
        ("status rb-7k2q9x", ShowStatus(request_id="RB-7K2Q9X")),
        (
            "drills deployment/api -n staging",
            ShowDrills(target=TargetRef(kind="deployment", name="api", namespace="staging")),
        ),
        (
            'deployment/api -n prod --severity p0 --reason "5xx after v1.3.0" --ticket https://jira/INC-1',
            OpenRollback(
                target=TargetRef(kind="deployment", name="api", namespace="prod"),
                rollback_type=RollbackType.DEPLOYMENT_LAST_VERSION,
                to_revision=None,
                severity=Severity.P1,
                reason="5xx after v1.3.0",
                ticket="https://jira/INC-1",
            ),
        ),
        (
            "deploy/api --to-revision=3 --reason=bad",
            OpenRollback(
                target=TargetRef(kind="deployment", name="api", namespace="default"),
                rollback_type=RollbackType.DEPLOYMENT_OLDER_VERSION,
                to_revision="3",
                severity=None,
                reason="bad",
                ticket=None,
            ),
        ),
        (
            "cm/api-config --namespace prod --reason 'bad key'",
            OpenRollback(
                target=TargetRef(kind="configmap", name="api-config", namespace="prod"),
                rollback_type=RollbackType.CONFIGURATION,
                to_revision=None,
                severity=None,
                reason="bad key",
                ticket=None,
            ),
        ),
        (
            "codedeploy/Shop/prod-fleet --reason x",
            OpenRollback(
                target=TargetRef(kind="codedeploy", name="Shop/prod-fleet"),
                rollback_type=RollbackType.DEPLOYMENT_LAST_VERSION,
                to_revision=None,
                severity=None,
                reason="x",
                ticket=None,
            ),
        ),
        (
            "flag/new-checkout --env staging --reason x",
            OpenRollback(
                target=TargetRef(kind="flag", name="new-checkout", namespace="staging"),
                rollback_type=RollbackType.FEATURE_FLAG,
                to_revision=None,
                severity=None,
                reason="x",
                ticket=None,
            ),
        ),
        (
            "deployment/shop -n prod --to-migration 0001_orders --reason x",
            OpenRollback(
                target=TargetRef(kind="deployment", name="shop", namespace="prod"),
                rollback_type=RollbackType.DEPLOYMENT_LAST_VERSION,
                to_revision=None,
                severity=None,
                reason="x",
                ticket=None,
                to_migration="0001_orders",
            ),
        ),
        (
            "database/shop --restore-backup rb-abcd12 --reason x",
            OpenRollback(
                target=TargetRef(kind="database", name="shop"),
                rollback_type=RollbackType.DATABASE_RESTORE,
                to_revision="backup:RB-ABCD12",
                severity=None,
                reason="x",
                ticket=None,
            ),
        ),
        (
            "database/shop --to-migration 0001_orders --reason x",
            OpenRollback(
                target=TargetRef(kind="database", name="shop"),
                rollback_type=RollbackType.DATABASE,
                to_revision="0001_orders",
                severity=None,
                reason="x",
                ticket=None,
            ),
        ),
    ],
)
def test_parses(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("list now", "`list` takes no arguments"),
        ("status RB-1 RB-2", "`status` takes one request id"),
        ("status 42", "`status` takes one request id"),
        ("drills api", "`drills` takes a target such as deployment/api -n prod"),
        ("deployment/", "unknown target `deployment/`"),
        ("deployment/api -n Prod --reason x", "`Prod` is not a valid Kubernetes namespace"),
        ("deployment/api --reason x --reason y", "`--reason` is given twice"),
        ("deployment/api --to-revision 0 --reason x", "--to-revision takes a revision number"),
        ("deployment/api --env prod --reason x", "--env applies to flag targets only"),
        ("flag/x -n prod --reason x", "-n applies to Kubernetes targets, not flag"),
        ("flag/bad key --reason x", "unknown option `key`"),
        ("flag/b@d --reason x", "is not a valid flag key"),
        ("codedeploy/app --reason x", "codedeploy/<application>/<deployment-group>"),
        ("deployment/api --reason x --ticket ftp://x", "--ticket takes a link"),
        ("deployment/api --reason --severity P1", "`--reason` needs a value"),
        ("database/shop --reason x", "say which migration to downgrade to: --to-migration REV"),
        ("database/shop --to-revision 2 --reason x", "a database rolls back to a migration"),
        ("database/shop --to-migration 1:2 --reason x", "--to-migration takes a migration"),
        ("flag/x --to-migration 2 --reason x", "--to-migration applies to database and deployment"),
        (
            "deployment/api --restore-backup RB-ABCD --reason x",
            "--restore-backup applies to database",
        ),
        ("database/shop --restore-backup x --reason x", "--restore-backup takes the id"),
        (
            "database/shop --restore-backup RB-ABCD --to-migration 1 --reason x",
            "either --to-migration or --restore-backup",
        ),
        ("database/shop -n prod --to-migration 2 --reason x", "-n applies to Kubernetes targets"),
    ],
)
def test_refuses_with_the_problem_and_usage(text: str, problem: str) -> None:
    with pytest.raises(CommandError) as err:
        parse_command(text)
    assert problem in err.value.problem
    assert "*Usage*" in str(err.value)


def test_obligation_commands() -> None:
    from bot.domain.events import ObligationKind
    from bot.usecases.commands import ApproveRetroactively, MeetObligationCommand

    assert parse_command("postmortem rb-abc123 https://wiki/pm") == MeetObligationCommand(
        "RB-ABC123", ObligationKind.POST_MORTEM, "https://wiki/pm"
    )
    assert (
        parse_command("review RB-ABC123 https://wiki/r").kind
        is ObligationKind.POST_EMERGENCY_REVIEW
    )  # type: ignore[union-attr]
    assert (
        parse_command("written-approval RB-ABC123 https://x").kind
        is ObligationKind.EMERGENCY_WRITTEN_APPROVAL
    )  # type: ignore[union-attr]
    assert parse_command("approve-retro RB-ABC123") == ApproveRetroactively("RB-ABC123")
    assert parse_command('customers-notified rb-abc123 "status page" and email') == (
        MeetObligationCommand(
            "RB-ABC123", ObligationKind.CUSTOMER_NOTIFICATION, "status page and email"
        )
    )
    assert parse_command("customers-notified RB-ABC123").evidence == "said so in Slack"  # type: ignore[union-attr]
    for bad, says in [
        ("customers-notified", "takes a request id and how"),
        ("customers-notified RB-ABC123 " + "x" * 1001, "keep it under 1000"),
        ("postmortem RB-ABC123", "takes a request id and a link"),
        ("postmortem RB-ABC123 notalink", "takes a link starting with https://"),
        ("approve-retro", "takes one request id"),
    ]:
        with pytest.raises(CommandError, match=says):
            parse_command(bad)
