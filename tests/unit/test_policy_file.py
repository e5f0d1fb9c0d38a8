"""Policy file loading: the shipped default, and bad files rejected with line and reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config.policy_file import DEFAULT_POLICY, PolicyFileError, load_policy, parse_policy
from bot.domain.policy import ApprovalPolicy, Role, RollbackType

GOOD = DEFAULT_POLICY.read_text()


def test_default_policy_file_is_the_runbooks_matrix() -> None:
    loaded = load_policy(None)
    assert loaded.approval_matrix == ApprovalPolicy().approval_matrix
    assert loaded.deadlines.retro_approval == timedelta(hours=4)
    assert loaded.deadlines.post_emergency_review == timedelta(days=5)
    assert loaded.deadlines.decision_timeout == timedelta(minutes=30)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "reason"),
    [
        (
            "requires: [dba, engineering_lead]",
            "requires: [dba, janitor]",
            "requires: [dba, janitor]",
            "approval_matrix.database.requires.1",
        ),
        ("post_mortem: PT48H", "post_mortem: later", "post_mortem: later", "deadlines.post_mortem"),
        (
            "retro_approval: PT4H",
            "retro_approval: -PT4H",
            "retro_approval: -PT4H",
            "must be a positive duration",
        ),
        ("version: 1", "version: 2", "version: 2", "version"),
        (
            "  cto: {users: []}",
            "  cto: {users: [], group: S1}",
            "cto: {users: [], group: S1}",
            "roles.cto.group",
        ),
        (
            "requires: [governance_lead, security]",
            "requires: [security, security]",
            "requires: [security, security]",
            "a role is listed twice",
        ),
    ],
)
def test_bad_policy_is_rejected_with_line_and_reason(
    old: str, new: str, needle: str, reason: str
) -> None:
    text = GOOD.replace(old, new)
    assert text != GOOD
    with pytest.raises(PolicyFileError) as err:
        parse_policy(text, Path("policy.yaml"))
    assert reason in err.value.reason
    # pydantic reports model-level problems on the mapping that holds them: within two lines
    assert err.value.line is not None
    assert abs(err.value.line - _line_of(text, needle)) <= 2
    assert str(err.value).startswith(f"policy.yaml:{err.value.line}: ")


def test_unknown_rollback_type_is_named() -> None:
    text = GOOD.replace("  feature_flag:", "  feature_flags:")
    with pytest.raises(PolicyFileError, match=r"approval_matrix\.feature_flags") as err:
        parse_policy(text, Path("p.yaml"))
    assert err.value.line == _line_of(text, "feature_flags:")


def test_broken_yaml_and_wrong_shape() -> None:
    with pytest.raises(PolicyFileError, match="not valid YAML") as err:
        parse_policy("version: 1\nroles: [unclosed\n", Path("p.yaml"))
    assert err.value.line == 3
    with pytest.raises(PolicyFileError, match="is a mapping"):
        parse_policy("- just\n- a list\n", Path("p.yaml"))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="cannot read the policy file"):
        load_policy(tmp_path / "absent.yaml")


def test_partial_policy_keeps_defaults_for_what_it_leaves_out(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nroles:\n  dba: {usergroup: S0DBA, users: [U1]}\n"
        "approval_matrix:\n  feature_flag: {auto_approve_for: on_call}\n"
        "services:\n  api: {auto_rollback_on_timeout: false}\n"
    )
    policy = load_policy(path)
    assert policy.roles[Role.DBA].usergroup == "S0DBA"
    assert policy.row(RollbackType.FEATURE_FLAG).auto_approve_for == Role.ON_CALL
    assert policy.row(RollbackType.DATABASE).requires == (Role.DBA, Role.ENGINEERING_LEAD)
    assert policy.service("api").auto_rollback_on_timeout is False
    assert policy.service("web").auto_rollback_on_timeout is True
