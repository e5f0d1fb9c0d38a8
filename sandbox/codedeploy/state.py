"""What the fake CodeDeploy holds: applications, groups, deployments that progress in time."""

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

    def advance(self) -> None:
        """Move on with the wall clock: Created -> InProgress -> Succeeded (or Failed)."""
        if self.status not in ACTIVE:
            return
        elapsed = time.monotonic() - self.started
        if elapsed >= self.duration:
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

    def next_deployment_id(self) -> str:
        return f"d-SBX{next(self._ids):06d}"

    def add_group(self, app: str, group: str, *, instances: int = 3) -> None:
        self.applications.add(app)
        self.groups[(app, group)] = {"instances": instances, "id": f"dg-{app}-{group}"}

    def release(
        self, app: str, group: str, key: str, *, running: bool = False, failing: str | None = None
    ) -> str:
        """A deployment of s3://releases/<key> the scenario made before rollbot came along."""
        deployment = self.start(app, group, s3_revision(key), description=f"release {key}")
        deployment.fail_with = failing
        if not running:
            deployment.duration = 0
            deployment.advance()
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
        deployment = Deployment(
            id=self.next_deployment_id(),
            app=app,
            group=group,
            revision=revision,
            created=time.time(),
            creator=creator,
            description=description,
            instances=self.groups[(app, group)]["instances"],
            duration=self.deploy_seconds,
        )
        self.deployments[deployment.id] = deployment
        return deployment

    def of_group(self, app: str, group: str) -> list[Deployment]:
        found = [d for d in self.deployments.values() if (d.app, d.group) == (app, group)]
        for d in found:
            d.advance()
        return sorted(found, key=lambda d: d.created)

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
