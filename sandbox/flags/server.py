"""Fakes of two feature-flag services over real HTTP, each with its own authentication header.

LaunchDarkly REST API v2: GET a flag, PATCH it with a semantic patch (`Content-Type:
application/json; domain-model=launchdarkly.semanticpatch`), read the audit log; the access
token goes bare in `Authorization`. Unleash admin API: read a feature, turn it on or off in an
environment; an admin token in `Authorization`. Faults for tests: 429 with Retry-After (seconds
or an HTTP date), 5xx, 403 on the next calls. Environments that require approval: reviews.py.
"""

from __future__ import annotations

from aiohttp import web

from sandbox.flags.reviews import add_review_routes
from sandbox.flags.state import (
    SEMANTIC_PATCH,
    STATE,
    FlagsState,
    ld_flag,
    ld_guard,
    unleash_feature,
    unleash_guard,
)
from sandbox.local_http import LocalHttpServer


async def ld_get_flag(request: web.Request) -> web.Response:
    flag = ld_flag(request)
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
    flag = ld_flag(request)
    if isinstance(flag, web.Response):
        return flag
    state = request.app[STATE]
    body = await request.json()
    gated = (request.match_info["project"], body.get("environmentKey"))
    if gated in state.ld_approval_envs:
        kinds = ", ".join(f"'{i.get('kind')}'" for i in body.get("instructions") or [])
        return web.json_response(
            {
                "code": "method_not_allowed",
                "message": f"Flag configuration updates require approval: action {kinds} not allowed",
            },
            status=405,
        )
    if SEMANTIC_PATCH not in request.headers.get("Content-Type", ""):
        return web.json_response(
            {"code": "invalid_request", "message": "the sandbox takes semantic patches only"},
            status=400,
        )
    try:
        state.ld_apply(flag, body, member="rollbot@sandbox")
    except web.HTTPBadRequest as exc:
        return web.json_response({"code": "invalid_request", "message": exc.reason}, status=400)
    return web.json_response(state.ld_view(flag, None))


async def ld_audit_log(request: web.Request) -> web.Response:
    refused = ld_guard(request)
    if refused is not None:
        return refused
    state = request.app[STATE]
    spec = request.query.get("spec", "")
    key = spec.rsplit("flag/", 1)[-1] if "flag/" in spec else None
    items = [e for e in state.ld_audit if key is None or e["name"] == key]
    limit = int(request.query.get("limit", "10"))
    newest = sorted(items, key=lambda e: e["date"], reverse=True)[:limit]
    return web.json_response({"items": newest, "totalCount": len(items)})


# --- Unleash ---------------------------------------------------------------------------


async def unleash_get(request: web.Request) -> web.Response:
    refused = unleash_guard(request)
    if refused is not None:
        return refused
    feature = unleash_feature(request)
    if feature is None:
        return web.json_response(
            {"name": "NotFoundError", "message": "Could not find feature"}, status=404
        )
    return web.json_response(feature)


async def unleash_switch(request: web.Request) -> web.Response:
    refused = unleash_guard(request)
    if refused is not None:
        return refused
    feature = unleash_feature(request)
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
    if (feature["project"], env["name"]) in request.app[STATE].unleash_change_requests:
        return web.json_response(
            {
                "name": "PermissionError",
                "message": "You don't have the required permissions to perform this operation. "
                'To perform this action, you need the "SKIP_CHANGE_REQUEST" permission',
            },
            status=403,
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
        add_review_routes(app)
        return app
