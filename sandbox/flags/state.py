"""What the fake flag services hold, and the checks every request passes first (the
service's Authorization header, LaunchDarkly's LD-API-Version, the faults a test queued)."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from aiohttp import web

SEMANTIC_PATCH = "domain-model=launchdarkly.semanticpatch"


@dataclass
class Fault:
    service: str  # "launchdarkly" | "unleash"
    method: str  # "GET", "PATCH", "POST" or "*"
    status: int
    times: int
    # a 429's Retry-After: delay-seconds, or an HTTP date that far ahead (RFC 9110 allows both)
    retry_after_date: bool = False


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
        self.ld_api_versions: list[str | None] = []  # the LD-API-Version of each call
        # LaunchDarkly environments whose approval settings require approval: (project, env)
        self.ld_approval_envs: set[tuple[str, str]] = set()
        self.ld_approvals: dict[str, dict[str, Any]] = {}
        # Unleash environments with change requests on: (project, env) -> approvals required
        self.unleash_change_requests: dict[tuple[str, str], int] = {}
        self.unleash_requests: dict[int, dict[str, Any]] = {}
        # Unleash open source has no change-request API (its routes answer 404)
        self.unleash_edition = "enterprise"
        # whether rollbot's token holds the permission to apply approved changes
        self.may_apply = True
        # a token that may not read LaunchDarkly environments (their approval settings): 403
        self.ld_settings_hidden = False
        self._ms = itertools.count(int(time.time() * 1000))
        self._change_ids = itertools.count(1)

    def now_ms(self) -> int:
        return next(self._ms)

    def next_change_request(self) -> int:
        return next(self._change_ids)

    # --- what a reviewer does in the service's own UI (tests) -----------------------------

    def ld_review(self, approval_id: str, kind: str, member: str, comment: str = "") -> None:
        """A LaunchDarkly member approves or declines an approval request."""
        approval = self.ld_approvals[approval_id]
        approval["allReviews"].append({"kind": kind, "memberId": member, "comment": comment})
        approval["reviewStatus"] = "approved" if kind == "approve" else "declined"
        approval["_version"] += 1

    def unleash_review(self, change_id: int, approve: bool, by: str) -> None:
        """An Unleash user approves or rejects a change request in review."""
        change = self.unleash_requests[change_id]
        change["approvals" if approve else "rejections"].append({"createdBy": {"username": by}})
        change["state"] = "Approved" if approve else "Rejected"

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
        self,
        service: str,
        method: str = "*",
        status: int = 429,
        *,
        times: int = 1,
        retry_after_date: bool = False,
    ) -> None:
        self.faults.append(Fault(service, method, status, times, retry_after_date))

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


def queued_fault(state: FlagsState, service: str, method: str) -> web.Response | None:
    for fault in list(state.faults):
        if fault.service == service and fault.method in ("*", method):
            fault.times -= 1
            if fault.times <= 0:
                state.faults.remove(fault)
            headers = {"Retry-After": "1"} if fault.status == 429 else {}
            if fault.retry_after_date:
                headers["Retry-After"] = formatdate(time.time() + 1, usegmt=True)
            elif service == "launchdarkly" and fault.status == 429:
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


LD_API_VERSIONS = {"20240415", "20220603", "20210729", "20191212", "beta"}


def ld_guard(request: web.Request) -> web.Response | None:
    state = request.app[STATE]
    state.calls.append(("launchdarkly", request.method, request.path))
    version = request.headers.get("LD-API-Version")
    state.ld_api_versions.append(version)
    if version is not None and version not in LD_API_VERSIONS:
        return web.json_response(
            {"code": "invalid_request", "message": f"Unknown API version {version}"}, status=400
        )
    if request.headers.get("Authorization") != state.ld_token:
        return web.json_response(
            {"code": "unauthorized", "message": "Invalid access token"}, status=401
        )
    return queued_fault(state, "launchdarkly", request.method)


def ld_flag(request: web.Request) -> LaunchDarklyFlag | web.Response:
    """The flag the path names, or the answer LaunchDarkly gives instead (401, a fault, 404)."""
    refused = ld_guard(request)
    if refused is not None:
        return refused
    key = (request.match_info["project"], request.match_info["key"])
    flag = request.app[STATE].ld_flags.get(key)
    if flag is None:
        return web.json_response({"code": "not_found", "message": "Unknown resource"}, status=404)
    return flag


# --- Unleash -----------------------------------------------------------------------


def unleash_guard(request: web.Request) -> web.Response | None:
    state = request.app[STATE]
    state.calls.append(("unleash", request.method, request.path))
    if request.headers.get("Authorization") != state.unleash_token:
        return web.json_response(
            {"name": "AuthenticationRequired", "message": "You must log in to use Unleash."},
            status=401,
        )
    return queued_fault(state, "unleash", request.method)


def unleash_feature(request: web.Request) -> dict[str, Any] | None:
    return request.app[STATE].unleash.get(
        (request.match_info["project"], request.match_info["name"])
    )
