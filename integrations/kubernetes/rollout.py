"""kubectl's own logic, as plain functions over JSON dicts: which annotations an undo keeps,
rollout status, and which API failures are worth a retry
(k8s.io/kubectl/pkg/polymorphichelpers/rollback.go and rollout_status.go)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import urllib3
from kubernetes.client.exceptions import ApiException

from bot.domain.request import TargetRef
from bot.ports import ExecutionError, TargetUnavailableError, UnknownTargetError

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
# kubectl's annotationsToSkip (pkg/polymorphichelpers/rollback.go), the same list as the
# deployment controller's (pkg/controller/deployment/util/deployment_util.go): an undo keeps these
# from the deployment and takes every other annotation from the chosen ReplicaSet.
SKIPPED_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
CONFLICT_RETRIES = 3
T = TypeVar("T")


class AccessDeniedError(TargetUnavailableError):
    """The cluster refused rollbot's credentials the permission it needs (RBAC)."""


class ClusterError(TargetUnavailableError):
    """The API server failed (5xx, unreachable) and retries did not help; nothing was changed."""


READ_ATTEMPTS = 3


def is_transient(exc: Exception) -> bool:
    if isinstance(exc, ApiException):
        return exc.status is None or exc.status >= 500 or exc.status == 429
    return isinstance(exc, urllib3.exceptions.HTTPError | OSError)


def read_with_retries(fn: Callable[[], T], what: str) -> T:
    """Reads are safe to repeat: retry server errors and dropped connections a few times."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt == READ_ATTEMPTS:
                reason = (
                    f"{exc.status} {exc.reason}"
                    if isinstance(exc, ApiException)
                    else type(exc).__name__
                )
                raise ClusterError(
                    f"the Kubernetes API failed while reading {what} ({reason}); nothing was changed"
                ) from None
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def read_named(
    read: Callable[..., Any], target: TargetRef, timeout: float | None = None
) -> dict[str, Any]:
    """One namespaced object by the target's name (e.g. `read_namespaced_deployment`), with the
    read retries; a 404 says the target does not exist."""
    try:
        return read_with_retries(
            lambda: json_body(
                read(
                    target.name,
                    target.namespace or "default",
                    _preload_content=False,
                    _request_timeout=timeout,
                )
            ),
            target.label,
        )
    except ApiException as exc:
        if exc.status == 404:
            raise UnknownTargetError(f"`{target.label}` was not found in the cluster") from None
        raise


def revision_of(obj: dict[str, Any]) -> int:
    return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0") or 0)


def plain_template(template: dict[str, Any]) -> dict[str, Any]:
    """A ReplicaSet's template as kubectl writes it back: no pod-template-hash."""
    t = copy.deepcopy(template)
    (t.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    return t


def images_of(template: dict[str, Any]) -> list[str]:
    return [c.get("image", "?") for c in template.get("spec", {}).get("containers", [])]


def rollout_state(d: dict[str, Any]) -> tuple[bool, str]:
    """kubectl's DeploymentStatusViewer: (done, message); raises on a missed deadline."""
    name, spec, status = d["metadata"]["name"], d.get("spec") or {}, d.get("status") or {}
    if d["metadata"].get("generation", 0) > status.get("observedGeneration", 0):
        return False, "waiting for the deployment spec update to be observed"
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            raise ExecutionError(
                f'deployment "{name}" exceeded its progress deadline (ProgressDeadlineExceeded)'
            )
    want, updated = spec.get("replicas", 1), status.get("updatedReplicas", 0)
    if updated < want:
        return False, f"{updated} out of {want} new replicas have been updated"
    if status.get("replicas", 0) > updated:
        return False, f"{status['replicas'] - updated} old replicas are pending termination"
    if status.get("availableReplicas", 0) < updated:
        return (
            False,
            f"{status.get('availableReplicas', 0)} of {updated} updated replicas are available",
        )
    return True, f'deployment "{name}" successfully rolled out'


def json_body(response: Any) -> dict[str, Any]:
    """The body of a `_preload_content=False` response: the JSON kubectl would see."""
    data: dict[str, Any] = json.loads(response.data)
    return data


def unanswered_patch(target: TargetRef, sent: datetime, timeout: float, exc: Exception) -> str:
    """What is known when a patch got no answer: it may or may not have been applied."""
    ns = target.namespace or "default"
    return (
        f"the rollback patch was sent at {sent:%H:%M:%S} UTC and the API server did not answer "
        f"within {timeout:g} s ({type(exc).__name__}); the state of `{target.label}` is unknown. "
        f"Check it with `kubectl rollout status deployment/{target.name} -n {ns}` and "
        f"`kubectl rollout history deployment/{target.name} -n {ns}`"
    )


def undo_annotations(deployment: dict[str, Any], chosen: dict[str, Any]) -> dict[str, str]:
    """The deployment's annotations after an undo, rebuilt as rollback.go does: only the skipped
    keys survive from the deployment, everything else comes from the chosen ReplicaSet. So a
    change-cause or custom annotation of the bad revision does not stay on the restored one."""
    kept = deployment["metadata"].get("annotations") or {}
    annotations = {k: kept[k] for k in sorted(SKIPPED_ANNOTATIONS) if k in kept}
    for key, value in (chosen["metadata"].get("annotations") or {}).items():
        if key not in SKIPPED_ANNOTATIONS:
            annotations[key] = value
    return annotations


def undo_patch(deployment: dict[str, Any], chosen: dict[str, Any]) -> list[dict[str, Any]]:
    """kubectl rollout undo's JSON patch (rollback.go: the chosen ReplicaSet's template without
    its pod-template-hash, the annotations rebuilt), plus a test on the resourceVersion read."""
    template = plain_template(chosen["spec"]["template"])
    template.setdefault("metadata", {})["creationTimestamp"] = None
    annotations = undo_annotations(deployment, chosen)
    return [
        # kubectl's two operations, plus a test that makes the patch conditional on what we read
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": deployment["metadata"]["resourceVersion"],
        },
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


def access_review(target: TargetRef) -> dict[str, Any]:
    """The SelfSubjectAccessReview `kubectl auth can-i patch deployment/NAME` sends."""
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "group": "apps",
                "resource": "deployments",
                "verb": "patch",
                "namespace": target.namespace or "default",
                "name": target.name,
            }
        },
    }


# Set by a team's deploy pipeline on the pod template: the schema migration the release needs.
# Each ReplicaSet keeps its template's, so an older revision says which schema it expects.
SCHEMA_MIGRATION = "rollbot.dev/schema-migration"


def expected_migration(template: dict[str, Any]) -> str | None:
    found = ((template.get("metadata") or {}).get("annotations") or {}).get(SCHEMA_MIGRATION)
    return str(found) if found else None
