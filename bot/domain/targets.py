"""Rollback targets as people write them: `<kind>/<name>`, checked against each platform's
naming rules, and the other fields a request is opened with. Pure; each refusal names the fix."""

from __future__ import annotations

import re

from bot.domain.errors import DomainError
from bot.domain.policy import RollbackType
from bot.domain.request import TargetRef


class InputError(DomainError):
    """Malformed input; `problem` says what was wrong in one line."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


MAX_REASON = 1000
MAX_TICKET = 500
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_AWS_NAME = re.compile(r"^[A-Za-z0-9._+=,@-]{1,100}$")
_FLAG_KEY = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_DEPLOYMENT_ID = re.compile(r"^d-[A-Z0-9]{9}$")
_DATABASE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Alembic revision ids are hex by default, but any identifier may be used; `base` is before the
# first migration.
_MIGRATION = re.compile(r"^(base|[0-9A-Za-z_]{1,64})$")
REQUEST_ID = re.compile(r"^RB-[0-9A-Z]{4,16}$")
_KIND_ALIASES = {
    "deployment": "deployment",
    "deploy": "deployment",
    "configmap": "configmap",
    "cm": "configmap",
    "codedeploy": "codedeploy",
    "flag": "flag",
    "database": "database",
    "db": "database",
}


def check_revision(text: str, kind: str = "deployment") -> str:
    """A Kubernetes revision or a flag version is a number; a CodeDeploy one a deployment ID."""
    if kind == "codedeploy":
        if not _DEPLOYMENT_ID.match(text):
            raise InputError(f"--to-revision takes a CodeDeploy deployment ID (d-…), not `{text}`")
        return text
    if not (text.isdigit() and int(text) > 0):
        raise InputError(f"--to-revision takes a revision number, not `{text}`")
    return text


def check_migration(text: str) -> str:
    if not _MIGRATION.match(text):
        raise InputError(
            f"--to-migration takes a migration revision id (letters, digits, _) or base, not `{text}`"
        )
    return text


# A restore's destination: the backup a database rollback took, by that request's id.
BACKUP_PREFIX = "backup:"


def check_backup(text: str) -> str:
    request_id = text.strip().upper()
    if not REQUEST_ID.match(request_id):
        raise InputError(
            f"--restore-backup takes the id of the rollback that took the backup (RB-…), not `{text}`"
        )
    return BACKUP_PREFIX + request_id


def check_ticket(text: str) -> str:
    if len(text) > MAX_TICKET or not text.startswith(("https://", "http://")):
        raise InputError("--ticket takes a link starting with https://")
    return text


def check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InputError('say why: --reason "what is broken"')
    if len(reason) > MAX_REASON:
        raise InputError(f"the reason is {len(reason)} characters; keep it under {MAX_REASON}")
    return reason


def target_from(spec: str, namespace: str | None = None, env: str | None = None) -> TargetRef:
    """A target as a person writes it, checked by each platform's naming rules."""
    kind_text, _, rest = spec.partition("/")
    kind = _KIND_ALIASES.get(kind_text.lower())
    if kind is None or not rest:
        raise InputError(f"unknown target `{spec}`: write it as <kind>/<name>, e.g. deployment/api")
    if kind in ("deployment", "configmap"):
        if not _DNS_SUBDOMAIN.match(rest):
            raise InputError(
                f"`{rest}` is not a valid Kubernetes name (lower case, digits, '-', '.')"
            )
        ns = namespace or "default"
        if not _DNS_LABEL.match(ns):
            raise InputError(f"`{ns}` is not a valid Kubernetes namespace")
        return TargetRef(kind=kind, name=rest, namespace=ns)
    if namespace is not None:
        raise InputError(f"-n applies to Kubernetes targets, not {kind}")
    if kind == "codedeploy":
        app, _, group = rest.partition("/")
        if not (_AWS_NAME.match(app) and _AWS_NAME.match(group)):
            raise InputError("a CodeDeploy target is codedeploy/<application>/<deployment-group>")
        return TargetRef(kind=kind, name=f"{app}/{group}")
    if kind == "database":
        if not _DATABASE.match(rest):
            raise InputError(f"`{rest}` is not a database name from the policy (a-z, 0-9, -, _)")
        return TargetRef(kind=kind, name=rest)
    if not _FLAG_KEY.match(rest):
        raise InputError(f"`{rest}` is not a valid flag key")
    return TargetRef(kind=kind, name=rest, namespace=env or "production")


def rollback_type_for(target: TargetRef, to_revision: str | None) -> RollbackType:
    if target.kind == "configmap":
        return RollbackType.CONFIGURATION
    if target.kind == "flag":
        return RollbackType.FEATURE_FLAG
    if target.kind == "database":
        if to_revision is not None and to_revision.startswith(BACKUP_PREFIX):
            return RollbackType.DATABASE_RESTORE
        return RollbackType.DATABASE
    return (
        RollbackType.DEPLOYMENT_OLDER_VERSION
        if to_revision
        else RollbackType.DEPLOYMENT_LAST_VERSION
    )
