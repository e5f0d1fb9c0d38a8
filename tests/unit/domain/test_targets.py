"""Targets as people write them: each platform's naming rules, each refusal naming the fix."""

from __future__ import annotations

import pytest

from bot.domain.policy import RollbackType
from bot.domain.targets import (
    InputError,
    check_reason,
    check_revision,
    check_ticket,
    rollback_type_for,
    target_from,
)


@pytest.mark.parametrize(
    ("spec", "namespace", "env", "label"),
    [
        ("deployment/api", "prod", None, "deployment/api -n prod"),
        ("deploy/api", None, None, "deployment/api -n default"),
        ("cm/api-config", "prod", None, "configmap/api-config -n prod"),
        ("codedeploy/shop/blue", None, None, "codedeploy/shop/blue"),
        ("flag/new-checkout", None, "staging", "flag/new-checkout -n staging"),
    ],
)
def test_valid_targets(spec: str, namespace: str | None, env: str | None, label: str) -> None:
    assert target_from(spec, namespace, env).label == label


@pytest.mark.parametrize(
    ("spec", "namespace", "says"),
    [
        ("api", None, "write it as <kind>/<name>"),
        ("pod/api", None, "write it as <kind>/<name>"),
        ("deployment/API_1", None, "not a valid Kubernetes name"),
        ("deployment/api", "Prod!", "not a valid Kubernetes namespace"),
        ("codedeploy/shop/blue", "prod", "-n applies to Kubernetes targets"),
        ("codedeploy/shop", None, "codedeploy/<application>/<deployment-group>"),
        ("flag/has space", None, "not a valid flag key"),
    ],
)
def test_invalid_targets_say_what_to_fix(spec: str, namespace: str | None, says: str) -> None:
    with pytest.raises(InputError) as refused:
        target_from(spec, namespace)
    assert says in refused.value.problem


def test_rollback_types_follow_the_target() -> None:
    api = target_from("deployment/api", "prod")
    assert rollback_type_for(api, None) is RollbackType.DEPLOYMENT_LAST_VERSION
    assert rollback_type_for(api, "2") is RollbackType.DEPLOYMENT_OLDER_VERSION
    assert rollback_type_for(target_from("cm/a", "prod"), None) is RollbackType.CONFIGURATION
    assert rollback_type_for(target_from("flag/a"), None) is RollbackType.FEATURE_FLAG


def test_field_checks() -> None:
    assert check_revision("3") == "3"
    assert check_revision("d-ABCDEFGH1", "codedeploy") == "d-ABCDEFGH1"
    assert check_ticket("https://tickets.example/1") == "https://tickets.example/1"
    assert check_reason("  5xx  ") == "5xx"
    for bad in (lambda: check_revision("0"), lambda: check_revision("2", "codedeploy")):
        with pytest.raises(InputError):
            bad()
    with pytest.raises(InputError, match="https://"):
        check_ticket("ftp://x")
    with pytest.raises(InputError, match="say why"):
        check_reason("   ")
    with pytest.raises(InputError, match="keep it under"):
        check_reason("x" * 1001)
