"""What the fake CodeDeploy holds: applications, groups, deployments that progress in time.

Modelled on the CodeDeploy API reference: `creator` names who made a deployment
(`codeDeployRollback` for CodeDeploy's own rollbacks); a group's automatic rollback on
DEPLOYMENT_FAILURE redeploys the last successful revision when a deployment fails; an ECS or
Lambda blue/green deployment may wait in `Ready` with production traffic still on the original;
StopDeployment may answer `Pending` and take effect later."""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

ACTIVE = frozenset({"Created", "Queued", "InProgress", "Ready", "Baking"})


@dataclass
class Deployment:
    id: str
    app: str
    group: str
    revision: dict[str, Any]
    created: float
    creator: str = "user"
    description: str = ""
    status: str = "Created"
    completed: float | None = None
    instances: int = 3
    duration: float = 1.0
    started: float = field(default_factory=time.monotonic)
    rollback_info: dict[str, str] = field(default_factory=dict)
    fail_with: str | None = None  # a deployment the scenario makes fail
    platform: str = "Server"
    # blue/green with "wait for a manual reroute": the replacement is up, traffic is not moved
    wait_ready: bool = False
    # a StopDeployment that answered Pending: when it takes effect, and with rollback or not
    stopping_at: float | None = None
    stop_rollback: bool = False

    def advance(self) -> None:
        """Move on with the wall clock: Created -> InProgress -> Succeeded (or Failed, or Ready
        for a blue/green deployment that waits for its traffic to be rerouted)."""
        if self.status not in ACTIVE:
            return
        elapsed = time.monotonic() - self.started
        if elapsed >= self.duration:
            if self.wait_ready and not self.fail_with:
                self.status = "Ready"
                return
            self.status = "Failed" if self.fail_with else "Succeeded"
            self.completed = time.time()
        elif elapsed > 0:
            self.status = "InProgress"

    def overview(self) -> dict[str, int]:
        done = self.instances if self.status == "Succeeded" else 0
        if self.status == "InProgress":
            share = (time.monotonic() - self.started) / self.duration
            done = min(self.instances - 1, int(self.instances * share))
        failed = self.instances if self.status == "Failed" else 0
        skipped = self.instances - done if self.status == "Stopped" else 0
        running = 1 if self.status == "InProgress" else 0
        pending = self.instances - done - failed - skipped - running
        return {
            "Pending": pending,
            "InProgress": running,
            "Succeeded": done,
            "Failed": failed,
            "Skipped": skipped,
            "Ready": 0,
        }


@dataclass
class Fault:
    operation: str
    status: int
    code: str
    message: str
    times: int


FAULTS = {
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "5xx": (500, "InternalFailure", "We encountered an internal error. Please try again."),
    "denied": (
        400,
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/rollbot is not authorized to perform: "
        "codedeploy:{operation} on resource: arn:aws:codedeploy:us-east-1:123456789012:*",
    ),
}


class CodeDeployState:
    def __init__(
        self,
        *,
        access_key: str = "AKIDSANDBOXROLLBOT",
        secret_key: str = "sandbox-secret-key",
        region: str = "us-east-1",
        deploy_seconds: float = 1.0,
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.deploy_seconds = deploy_seconds
        self.applications: set[str] = set()
        self.groups: dict[tuple[str, str], dict[str, Any]] = {}
        self.deployments: dict[str, Deployment] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.faults: deque[Fault] = deque()
        self._ids = itertools.count(1)
        # ListDeployments: "paginated ... in no particular order"; tests try both orders
        self.list_order = "newest"
        self.page_size = 100
        # how long a StopDeployment takes to take effect (it answers Pending meanwhile)
        self.stop_seconds = 0.0
        # revisions (S3 keys) that fail whenever deployed, with the script's error message
        self.failing_keys: dict[str, str] = {}
        # the revision receiving production traffic, per group
        self.serving: dict[tuple[str, str], dict[str, Any]] = {}

    def next_deployment_id(self) -> str:
        return f"d-SBX{next(self._ids):06d}"

    def add_group(
        self,
        app: str,
        group: str,
        *,
        instances: int = 3,
        platform: str = "Server",
        auto_rollback: bool = False,
        wait_ready: bool = False,
    ) -> None:
        self.applications.add(app)
        self.groups[(app, group)] = {
            "instances": instances,
            "id": f"dg-{app}-{group}",
            "platform": platform,
            "auto_rollback": auto_rollback,
            "wait_ready": wait_ready,
        }

    def release(
        self, app: str, group: str, key: str, *, running: bool = False, failing: str | None = None
    ) -> str:
        """A deployment of s3://releases/<key> the scenario made before rollbot came along."""
        deployment = self.start(app, group, s3_revision(key), description=f"release {key}")
        deployment.fail_with = failing or deployment.fail_with
        if not running:
            deployment.duration = 0
            self.advance(deployment)
        return deployment.id

    def start(
        self,
        app: str,
        group: str,
        revision: dict[str, Any],
        *,
        creator: str = "user",
        description: str = "",
    ) -> Deployment:
        settings = self.groups[(app, group)]
        deployment = Deployment(
            id=self.next_deployment_id(),
            app=app,
            group=group,
            revision=revision,
            created=time.time(),
            creator=creator,
            description=description,
            instances=settings["instances"],
            duration=self.deploy_seconds,
            platform=settings["platform"],
            wait_ready=settings["wait_ready"] and creator == "user",
        )
        key = str((revision.get("s3Location") or {}).get("key", ""))
        deployment.fail_with = self.failing_keys.get(key)
        self.deployments[deployment.id] = deployment
        return deployment

    def of_group(self, app: str, group: str) -> list[Deployment]:
        found = [d for d in self.deployments.values() if (d.app, d.group) == (app, group)]
        for d in sorted(found, key=lambda d: d.created):
            self.advance(d)
        return sorted(found, key=lambda d: d.created)

    def advance(self, deployment: Deployment) -> None:
        """One deployment moves on; what CodeDeploy does when it ends happens here too."""
        if deployment.stopping_at is not None and time.monotonic() >= deployment.stopping_at:
            deployment.stopping_at = None
            self._stopped(deployment)
            return
        was_active = deployment.status in ACTIVE
        deployment.advance()
        if not was_active or deployment.status in ACTIVE:
            return
        key = (deployment.app, deployment.group)
        if deployment.status == "Succeeded":
            self.serving[key] = deployment.revision
        elif deployment.status == "Failed" and self.groups[key]["auto_rollback"]:
            self._roll_back(deployment, f"Deployment {deployment.id} failed")

    def stop(self, deployment: Deployment, *, rollback: bool) -> str:
        """StopDeployment: Succeeded when it took effect at once, Pending when it will."""
        deployment.stop_rollback = rollback
        if self.stop_seconds > 0:
            deployment.stopping_at = time.monotonic() + self.stop_seconds
            return "Pending"
        self._stopped(deployment)
        return "Succeeded"

    def _stopped(self, deployment: Deployment) -> None:
        deployment.status = "Stopped"
        deployment.completed = time.time()
        if deployment.stop_rollback:
            self._roll_back(deployment, f"Deployment {deployment.id} stopped")

    def _roll_back(self, deployment: Deployment, why: str) -> None:
        """CodeDeploy's own rollback: the last successful revision again, as a new deployment
        created by `codeDeployRollback` (for blue/green, traffic shifts back to the original)."""
        good = [
            d
            for d in self.deployments.values()
            if (d.app, d.group) == (deployment.app, deployment.group) and d.status == "Succeeded"
        ]
        if not good:
            deployment.rollback_info = {"rollbackMessage": "No deployment found for rollback."}
            return
        last = max(good, key=lambda d: d.created)
        rollback = self.start(
            deployment.app,
            deployment.group,
            last.revision,
            creator="codeDeployRollback",
            description=f"Rollback of {deployment.id}",
        )
        rollback.rollback_info = {
            "rollbackTriggeringDeploymentId": deployment.id,
            "rollbackMessage": f"Automatic rollback of {deployment.id}",
        }
        deployment.rollback_info = {
            "rollbackDeploymentId": rollback.id,
            "rollbackMessage": f"{why}; rolling back with {rollback.id}",
        }

    def fail_next(self, operation: str, kind: str = "throttle", *, times: int = 1) -> None:
        """The next `times` calls of an operation ('*' for any) fail as AWS fails them."""
        status, code, message = FAULTS[kind]
        self.faults.append(Fault(operation, status, code, message, times))

    def operations_called(self) -> list[str]:
        return [op for op, _ in self.calls]


def s3_revision(key: str) -> dict[str, Any]:
    return {
        "revisionType": "S3",
        "s3Location": {
            "bucket": "releases",
            "key": key,
            "bundleType": "zip",
            "eTag": f"etag-{key}",
        },
    }
