"""A fake of AWS CodeDeploy over real HTTP: the JSON 1.1 protocol boto3 speaks, SigV4 checked.

moto implements CodeDeploy's bookkeeping but no deployment ever runs and StopDeployment is
missing, so this fake keeps deployments that progress in (scaled) real time, stop, and roll
back automatically as CodeDeploy does. The operations it shares with moto are held to moto's
answers by tests/contract/test_codedeploy_moto.py.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandbox.codedeploy_ops import OPERATIONS, AwsError
from sandbox.local_http import LocalHttpServer

TARGET_PREFIX = "CodeDeploy_20141006."
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


def _aws_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"__type": code, "message": message},
        status=status,
        content_type="application/x-amz-json-1.1",
    )


def _signature_problem(state: CodeDeployState, request: web.Request, body: bytes) -> str | None:
    """Recompute the SigV4 signature with botocore itself; None when it matches."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("AWS4-HMAC-SHA256 "):
        return "MissingAuthenticationTokenException"
    parts = dict(p.strip().split("=", 1) for p in header[len("AWS4-HMAC-SHA256 ") :].split(","))
    access_key = parts.get("Credential", "").split("/")[0]
    if access_key != state.access_key:
        return "UnrecognizedClientException"
    signed = parts.get("SignedHeaders", "").split(";")
    headers = {name: request.headers.get(name, "") for name in signed}
    probe = AWSRequest(
        method=request.method,
        url=f"http://{request.host}{request.path_qs}",
        data=body,
        headers=headers,
    )
    probe.context["timestamp"] = request.headers.get("X-Amz-Date", "")
    auth = SigV4Auth(Credentials(state.access_key, state.secret_key), "codedeploy", state.region)
    expected = auth.signature(auth.string_to_sign(probe, auth.canonical_request(probe)), probe)
    return None if expected == parts.get("Signature") else "InvalidSignatureException"


STATE = web.AppKey("codedeploy_state", CodeDeployState)


async def _handle(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.read()
    problem = _signature_problem(state, request, body)
    if problem is not None:
        return _aws_error(
            403 if problem != "UnrecognizedClientException" else 400,
            problem,
            "The request signature we calculated does not match the signature you provided.",
        )
    target = request.headers.get("X-Amz-Target", "")
    operation = target.removeprefix(TARGET_PREFIX)
    if not target.startswith(TARGET_PREFIX) or operation not in OPERATIONS:
        return _aws_error(400, "UnknownOperationException", f"unknown operation {target}")
    args = json.loads(body or b"{}")
    state.calls.append((operation, args))
    for fault in list(state.faults):
        if fault.operation in ("*", operation):
            fault.times -= 1
            if fault.times <= 0:
                state.faults.remove(fault)
            return _aws_error(fault.status, fault.code, fault.message.format(operation=operation))
    try:
        answer = OPERATIONS[operation](state, args)
    except AwsError as exc:
        return _aws_error(400, exc.code, exc.message)
    return web.json_response(answer, content_type="application/x-amz-json-1.1")


class SandboxCodeDeploy(LocalHttpServer):
    """Runs the fake on 127.0.0.1, port 0; `url` is what boto3 takes as endpoint_url."""

    def __init__(self, state: CodeDeployState | None = None) -> None:
        super().__init__()
        self.state = state or CodeDeployState()

    def build_app(self) -> web.Application:
        app = web.Application()
        app[STATE] = self.state
        app.router.add_post("/", _handle)
        return app
