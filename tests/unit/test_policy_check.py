"""A policy you can lint: the example passes `rollbot policy check`; a bad alert route, an
undefined role and malformed Slack ids are refused with file:line; `policy show` reads."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bot.config.policy_file import load_policy, policy_errors
from bot.domain.policy import Role, RollbackType
from rollbot.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "policy.yaml"


def test_the_example_policy_passes_the_check_and_maps_user_groups() -> None:
    result = CliRunner().invoke(app, ["policy", "check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert result.output == f"{EXAMPLE}: OK\n"
    policy = load_policy(EXAMPLE)
    assert policy.roles[Role.ON_CALL].usergroup == "S0ONCALL01"
    assert policy.row(RollbackType.DEPLOYMENT_OLDER_VERSION).requires == (Role("sre_lead"),)


def test_every_problem_is_a_file_line_field_reason_line(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    bad = (
        text.replace("target: deployment/api, namespace: prod", "target: deployment/Checkout")
        .replace("requires: [sre_lead]", "requires: [site_lead]")
        .replace("incidents_channel: C0INCIDENT1", "incidents_channel: 'not a channel!'")
    )
    path = tmp_path / "policy.yaml"
    path.write_text(bad)
    result = CliRunner().invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1
    lines = bad.splitlines()

    def line_of(needle: str) -> int:
        return next(i for i, line in enumerate(lines, 1) if needle in line)

    assert result.output.splitlines() == [
        f"{path}:{line_of('site_lead')}: approval_matrix.deployment_older_version.requires.0: "
        "role site_lead is not defined under roles",
        f"{path}:{line_of('not a channel')}: paging.incidents_channel: not a Slack channel id "
        "or name",
        f"{path}:{line_of('deployment/Checkout')}: alerts.0.target: `Checkout` is not a valid "
        "Kubernetes name (lower case, digits, '-', '.')",
    ]


def test_shape_errors_are_all_reported(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("post_mortem: PT48H", "post_mortem: later")
    text = text.replace("  cto: {users: [U0CTO0001]}", "  cto: {users: [U0CTO0001], group: S1}")
    _, errors = policy_errors(text, tmp_path / "p.yaml")
    assert [e.reason.split(":")[0] for e in errors] == ["roles.cto.group", "deadlines.post_mortem"]
    assert all(e.line is not None for e in errors)


def test_policy_show_prints_who_holds_each_role_and_the_rules() -> None:
    result = CliRunner().invoke(app, ["policy", "show", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    shown = result.output.splitlines()
    assert "  sre_lead: U0SRE0001, Slack user group S0SRELEAD1" in shown
    assert "  deployment_older_version: needs sre lead; emergency override allowed" in shown
    assert "  declare_top_severity: on call or incident commander or sre lead" in shown
    assert "  written_approval: sre lead, not the requester or who declared the override" in shown
    assert "Alert route: service=api, env=prod → deployment/api prod" in shown


def test_each_kind_of_slack_id_and_role_reference_is_checked() -> None:
    from bot.domain.policy import ApprovalPolicy
    from bot.domain.policy_check import policy_problems

    policy = ApprovalPolicy.model_validate(
        {
            "roles": {"dba": {"usergroup": "dba-team", "users": ["bob"]}},
            "approval_matrix": {"deployment_last_version": {"auto_approve_for": "night_owl"}},
            "reporting": {"channels": ["not a channel!"]},
            "workspaces": ["acme", "T0GOOD"],
        }
    )
    assert [(p.field, p.reason) for p in policy_problems(policy)] == [
        (
            "approval_matrix.deployment_last_version.auto_approve_for",
            "role is not defined under roles",
        ),
        ("roles.dba.usergroup", "a Slack user group id is S…"),
        ("roles.dba.users.0", "a Slack user id is U… or W…"),
        ("reporting.channels.0", "not a Slack channel id or name"),
        ("workspaces.0", "a Slack workspace id is T…"),
    ]


def test_a_role_name_is_lower_case_words() -> None:
    import pytest

    with pytest.raises(ValueError, match="is not a role name"):
        Role("SRE Lead")
