"""Fakes of two feature-flag services over real HTTP, each with its own authentication header.

LaunchDarkly REST API v2: GET a flag, PATCH it with a semantic patch (`Content-Type:
application/json; domain-model=launchdarkly.semanticpatch`), read the audit log; the access
token goes bare in `Authorization`. Unleash admin API: read a feature, turn it on or off in an
environment; an admin token in `Authorization`. Faults for tests: 429 with Retry-After, 5xx,
403 on the next calls.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.local_http import LocalHttpServer

SEMANTIC_PATCH = "domain-model=launchdarkly.semanticpatch"


@dataclass
class Fault:
    service: str  # "launchdarkly" | "unleash"
    method: str  # "GET", "PATCH", "POST" or "*"
    status: int
    times: int


@dataclass
class LaunchDarklyFlag:
    key: str
    environments: dict[str, dict[str, Any]]
    variations: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"_id": str(uuid.uuid4()), "value": True, "name": "on"},
            {"_id": str(uuid.uuid4()), "value": False, "name": "off"},
        ]
    )
    version: int = 1


class FlagsState:
    def __init__(
        self,
        ld_token: str = "api-sandbox-ld-token",
        unleash_token: str = "*:*.sandbox-unleash-admin-token",
    ) -> None:
        self.ld_token = ld_token
        self.unleash_token = unleash_token
        self.ld_flags: dict[tuple[str, str], LaunchDarklyFlag] = {}
        self.ld_audit: list[dict[str, Any]] = []
        self.unleash: dict[tuple[str, str], dict[str, Any]] = {}
        self.faults: deque[Fault] = deque()
        self.calls: list[tuple[str, str, str]] = []  # service, method, path
        self._ms = itertools.count(int(time.time() * 1000))

    # --- what scenarios and tests set up ----------------------------------------------

    def add_ld_flag(self, project: str, key: str, *, on: dict[str, bool]) -> LaunchDarklyFlag:
        flag = LaunchDarklyFlag(key=key, environments={})
        for env, state in on.items():
            flag.environments[env] = {
                "on": state,
                "archived": False,
                "fallthrough": {"variation": 0},
                "offVariation": 1,
                "lastModified": next(self._ms),
                "version": 1,
                "_environmentName": env.title(),
            }
        self.ld_flags[(project, key)] = flag
        return flag

    def add_unleash_feature(self, project: str, name: str, *, enabled: dict[str, bool]) -> None:
        self.unleash[(project, name)] = {
            "name": name,
            "project": project,
            "type": "release",
            "stale": False,
            "environments": [
                {"name": env, "enabled": state, "type": env, "strategies": []}
                for env, state in enabled.items()
            ],
            "createdAt": "2026-11-01T09:00:00.000Z",
        }

    def fail_next(
        self, service: str, method: str = "*", status: int = 429, *, times: int = 1
    ) -> None:
        self.faults.append(Fault(service, method, status, times))

    def patches(self) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if c[1] in ("PATCH", "POST")]

    # --- LaunchDarkly -----------------------------------------------------------------

    def ld_view(self, flag: LaunchDarklyFlag, env: str | None) -> dict[str, Any]:
        envs = flag.environments if env is None else {env: flag.environments[env]}
        return {
            "key": flag.key,
            "name": flag.key,
            "kind": "boolean",
            "_version": flag.version,
            "variations": flag.variations,
            "environments": envs,
            "archived": False,
        }

    def ld_apply(self, flag: LaunchDarklyFlag, body: dict[str, Any], member: str) -> None:
        env_key = body.get("environmentKey")
        if env_key not in flag.environments:
            raise web.HTTPBadRequest(reason="environmentKey is required and must exist")
        env = flag.environments[env_key]
        ids = [v["_id"] for v in flag.variations]
        for instruction in body.get("instructions") or []:
            kind = instruction.get("kind")
            if kind == "turnFlagOff":
                env["on"] = False
            elif kind == "turnFlagOn":
                env["on"] = True
            elif kind in ("updateOffVariation", "updateFallthroughVariationOrRollout"):
                chosen = instruction.get("variationId")
                if chosen not in ids:
                    raise web.HTTPBadRequest(reason=f"unknown variationId {chosen}")
                if kind == "updateOffVariation":
                    env["offVariation"] = ids.index(chosen)
                else:
                    env["fallthrough"] = {"variation": ids.index(chosen)}
            else:
                raise web.HTTPBadRequest(reason=f"unsupported instruction kind {kind}")
        flag.version += 1
        env["version"] += 1
        env["lastModified"] = next(self._ms)
        self.ld_audit.append(
            {
                "_id": str(uuid.uuid4()),
                "date": env["lastModified"],
                "kind": "flag",
                "name": flag.key,
                "description": ", ".join(i.get("kind", "") for i in body.get("instructions") or []),
                "comment": body.get("comment", ""),
                "member": {"email": member},
                "titleVerb": "updated the flag",
                "target": {"resources": [f"proj/*:env/{env_key}:flag/{flag.key}"]},
            }
        )


STATE = web.AppKey("flags_state", FlagsState)


def _fault(state: FlagsState, service: str, method: str) -> web.Response | None:
    for fault in list(state.faults):
        if fault.service == service and fault.method in ("*", method):
            fault.times -= 1
            if fault.times <= 0:
                state.faults.remove(fault)
            headers = {"Retry-After": "1"} if fault.status == 429 else {}
            if service == "launchdarkly" and fault.status == 429:
                headers["X-Ratelimit-Reset"] = str(int(time.time() * 1000) + 1000)
            codes = {429: "rate_limited", 403: "forbidden", 500: "internal_server_error"}
            return web.json_response(
                {
                    "code": codes.get(fault.status, "error"),
                    "message": f"sandbox fault {fault.status}",
                },
                status=fault.status,
                headers=headers,
            )
    return None


def _ld_guard(request: web.Request) -> web.Response | None:
    state = request.app[STATE]
    state.calls.append(("launchdarkly", request.method, request.path))
    if request.headers.get("Authorization") != state.ld_token:
        return web.json_response(
            {"code": "unauthorized", "message": "Invalid access token"}, status=401
        )
    return _fault(state, "launchdarkly", request.method)


def _ld_flag(request: web.Request) -> LaunchDarklyFlag | web.Response:
    """The flag the path names, or the answer LaunchDarkly gives instead (401, a fault, 404)."""
    refused = _ld_guard(request)
    if refused is not None:
        return refused
    key = (request.match_info["project"], request.match_info["key"])
    flag = request.app[STATE].ld_flags.get(key)
    if flag is None:
        return web.json_response({"code": "not_found", "message": "Unknown resource"}, status=404)
    return flag


async def ld_get_flag(request: web.Request) -> web.Response:
    flag = _ld_flag(request)
    if isinstance(flag, web.Response):
        return flag
    state = request.app[STATE]
    env = request.query.get("env")
    if env is not None and env not in flag.environments:
        return web.json_response(
            {"code": "not_found", "message": f"Unknown environment {env}"}, status=404
        )
    return web.json_response(state.ld_view(flag, env))


async def ld_patch_flag(request: web.Request) -> web.Response:
    flag = _ld_flag(request)
    if isinstance(flag, web.Response):
        return flag
    state = request.app[STATE]
    if SEMANTIC_PATCH not in request.headers.get("Content-Type", ""):
        return web.json_response(
            {"code": "invalid_request", "message": "the sandbox takes semantic patches only"},
            status=400,
        )
    try:
        state.ld_apply(flag, await request.json(), member="rollbot@sandbox")
    except web.HTTPBadRequest as exc:
        return web.json_response({"code": "invalid_request", "message": exc.reason}, status=400)
    return web.json_response(state.ld_view(flag, None))


async def ld_audit_log(request: web.Request) -> web.Response:
    refused = _ld_guard(request)
    if refused is not None:
        return refused
    state = request.app[STATE]
    spec = request.query.get("spec", "")
    key = spec.rsplit("flag/", 1)[-1] if "flag/" in spec else None
    items = [e for e in state.ld_audit if key is None or e["name"] == key]
    limit = int(request.query.get("limit", "10"))
    newest = sorted(items, key=lambda e: e["date"], reverse=True)[:limit]
    return web.json_response({"items": newest, "totalCount": len(items)})


# --- Unleash --------------------------------------------------------------------------


def _unleash_guard(request: web.Request) -> web.Response | None:
    state = request.app[STATE]
    state.calls.append(("unleash", request.method, request.path))
    if request.headers.get("Authorization") != state.unleash_token:
        return web.json_response(
            {"name": "AuthenticationRequired", "message": "You must log in to use Unleash."},
            status=401,
        )
    return _fault(state, "unleash", request.method)


def _feature(request: web.Request) -> dict[str, Any] | None:
    return request.app[STATE].unleash.get(
        (request.match_info["project"], request.match_info["name"])
    )


async def unleash_get(request: web.Request) -> web.Response:
    refused = _unleash_guard(request)
    if refused is not None:
        return refused
    feature = _feature(request)
    if feature is None:
        return web.json_response(
            {"name": "NotFoundError", "message": "Could not find feature"}, status=404
        )
    return web.json_response(feature)


async def unleash_switch(request: web.Request) -> web.Response:
    refused = _unleash_guard(request)
    if refused is not None:
        return refused
    feature = _feature(request)
    env = next(
        (
            e
            for e in (feature or {}).get("environments", [])
            if e["name"] == request.match_info["env"]
        ),
        None,
    )
    if feature is None or env is None:
        return web.json_response(
            {"name": "NotFoundError", "message": "Could not find feature"}, status=404
        )
    env["enabled"] = request.match_info["switch"] == "on"
    return web.Response(status=200)


class SandboxFlags(LocalHttpServer):
    """Both services on one 127.0.0.1 port (0: any free one); each client takes `url`."""

    def __init__(self, state: FlagsState | None = None) -> None:
        super().__init__()
        self.state = state or FlagsState()

    def build_app(self) -> web.Application:
        app = web.Application()
        app[STATE] = self.state
        app.router.add_get("/api/v2/flags/{project}/{key}", ld_get_flag)
        app.router.add_patch("/api/v2/flags/{project}/{key}", ld_patch_flag)
        app.router.add_get("/api/v2/auditlog", ld_audit_log)
        base = "/api/admin/projects/{project}/features/{name}"
        app.router.add_get(base, unleash_get)
        app.router.add_post(base + "/environments/{env}/{switch:on|off}", unleash_switch)
        return app
