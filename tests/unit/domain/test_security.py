"""Security implications (the rollback auditing practice record fields; issue: flag rollbacks touching authn/authz)."""

from __future__ import annotations

from bot.domain.policy import RollbackType, ServicePolicy
from bot.domain.security import security_implications

K = RollbackType


def test_auth_config_keys_and_images_are_flagged() -> None:
    found = security_implications(
        rollback_type=K.CONFIGURATION,
        changes=("key OAUTH_ISSUER", "key LOG_LEVEL", "image auth-proxy:2.1 → auth-proxy:2.0"),
        service=ServicePolicy(),
    )
    assert found == ("touches key OAUTH_ISSUER", "touches image auth-proxy:2.1 → auth-proxy:2.0")


def test_policy_rollbacks_and_marked_services_are_flagged() -> None:
    assert security_implications(rollback_type=K.POLICY, changes=(), service=ServicePolicy()) == (
        "policy rollback: authorisation rules change",
    )
    assert security_implications(
        rollback_type=K.DEPLOYMENT_LAST_VERSION,
        changes=(),
        service=ServicePolicy(security_sensitive=True),
    ) == ("the policy marks this service as handling authentication or authorisation",)


def test_nothing_to_flag() -> None:
    found = security_implications(
        rollback_type=K.DEPLOYMENT_LAST_VERSION,
        changes=("image api:1.3.0 → api:1.2.3",),
        service=ServicePolicy(),
    )
    assert found == ()
