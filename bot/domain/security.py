"""Rollbacks that touch authentication or authorisation get a security reviewer's eye
(the rollback auditing guide: security implications belong in the record)."""

from __future__ import annotations

from bot.domain.policy import RollbackType, ServicePolicy

# Names of config keys and images that suggest authn/authz. Deliberately broad: a false
# alarm costs a glance, a miss costs an audit finding.
AUTH_WORDS = (
    "auth",
    "oauth",
    "oidc",
    "saml",
    "sso",
    "jwt",
    "token",
    "session",
    "login",
    "password",
    "credential",
    "secret",
    "mfa",
    "2fa",
    "rbac",
    "role",
    "permission",
    "acl",
    "cors",
    "csrf",
    "policy",
    "iam",
)


def security_implications(
    *, rollback_type: RollbackType, changes: tuple[str, ...], service: ServicePolicy
) -> tuple[str, ...]:
    found: list[str] = []
    if rollback_type is RollbackType.POLICY:
        found.append("policy rollback: authorisation rules change")
    if service.security_sensitive:
        found.append("the policy marks this service as handling authentication or authorisation")
    found.extend(f"touches {c}" for c in changes if any(word in c.lower() for word in AUTH_WORDS))
    return tuple(found)
