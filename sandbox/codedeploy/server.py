"""A fake of AWS CodeDeploy over real HTTP: the JSON 1.1 protocol boto3 speaks, SigV4 checked.

moto implements CodeDeploy's bookkeeping but no deployment ever runs and StopDeployment is
missing, so this fake keeps deployments that progress in (scaled) real time, stop, and roll
back automatically as CodeDeploy does. The operations it shares with moto are held to moto's
answers by tests/contract/test_codedeploy_moto.py.
"""

from __future__ import annotations

import json

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandbox.codedeploy.operations import OPERATIONS, AwsError
from sandbox.codedeploy.state import CodeDeployState
from sandbox.local_http import LocalHttpServer

TARGET_PREFIX = "CodeDeploy_20141006."


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
