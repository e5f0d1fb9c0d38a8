"""Changes the flag service itself must approve, as the fakes model them.

LaunchDarkly (REST API v2): an environment's `approvalSettings.required` makes a direct PATCH
answer 405 `method_not_allowed`; the change goes in as an approval request
(`POST /api/v2/projects/{p}/flags/{k}/environments/{e}/approval-requests`), is reviewed
(`approve`/`decline`), and applied (`…/apply`), which changes the flag.

Unleash Enterprise (admin API): with change requests on for an environment, a toggle answers
403 `PermissionError` (SKIP_CHANGE_REQUEST); the change goes in as a change request
(`POST /api/admin/projects/{p}/environments/{e}/change-requests`), moves through
Draft → In review → Approved → Applied (or Rejected, Cancelled). Open source Unleash has none
of these routes: 404.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from sandbox.flags.state import STATE, FlagsState, ld_flag, ld_guard, unleash_guard

_LD_BASE = "/api/v2/projects/{project}/flags/{key}/environments/{env}/approval-requests"
_UNLEASH = "/api/admin/projects/{project}"


def _ld_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


async def ld_environment(request: web.Request) -> web.Response:
    refused = ld_guard(request)
    if refused is not None:
        return refused
    state = request.app[STATE]
    if state.ld_settings_hidden:
        return _ld_error(403, "forbidden", "Access to the requested resource was denied")
    project, env = request.match_info["project"], request.match_info["env"]
    known = {e for (p, _), f in state.ld_flags.items() if p == project for e in f.environments}
    if env not in known:
        return _ld_error(404, "not_found", "Unknown resource")
    settings = {
        "required": (project, env) in state.ld_approval_envs,
        "bypassApprovalsForPendingChanges": False,
        "minNumApprovals": 1,
        "canReviewOwnRequest": False,
        "canApplyDeclinedChanges": False,
        "serviceKind": "launchdarkly",
        "requiredApprovalTags": [],
    }
    return web.json_response({"key": env, "name": env.title(), "approvalSettings": settings})


async def ld_create_approval(request: web.Request) -> web.Response:
    flag = ld_flag(request)
    if isinstance(flag, web.Response):
        return flag
    state = request.app[STATE]
    body = await request.json()
    if not body.get("description") or not body.get("instructions"):
        return _ld_error(400, "invalid_request", "description and instructions are required")
    env = request.match_info["env"]
    if env not in flag.environments:
        return _ld_error(404, "not_found", f"Unknown environment {env}")
    approval_id = uuid.uuid4().hex[:24]
    self_link = request.path + "/" + approval_id
    state.ld_approvals[approval_id] = {
        "_id": approval_id,
        "_version": 1,
        "creationDate": state.now_ms(),
        "serviceKind": "launchdarkly",
        "requestorId": "member-rollbot",
        "description": body["description"],
        "reviewStatus": "pending",
        "allReviews": [],
        "notifyMemberIds": body.get("notifyMemberIds") or [],
        "status": "pending",
        "instructions": body["instructions"],
        "conflicts": [],
        "comment": body.get("comment", ""),
        "_links": {"self": {"href": self_link, "type": "application/json"}},
        "_flag": (request.match_info["project"], flag.key, env),
    }
    return web.json_response(_shown(state.ld_approvals[approval_id]), status=201)


def _shown(approval: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in approval.items() if not k.startswith("_flag")}


def _approval(request: web.Request) -> dict[str, Any] | web.Response:
    refused = ld_guard(request)
    if refused is not None:
        return refused
    found = request.app[STATE].ld_approvals.get(request.match_info["id"])
    if found is None:
        return _ld_error(404, "not_found", "Unknown approval request")
    return found


async def ld_get_approval(request: web.Request) -> web.Response:
    approval = _approval(request)
    if isinstance(approval, web.Response):
        return approval
    return web.json_response(_shown(approval))


async def ld_apply_approval(request: web.Request) -> web.Response:
    approval = _approval(request)
    if isinstance(approval, web.Response):
        return approval
    state = request.app[STATE]
    if not state.may_apply:
        return _ld_error(403, "forbidden", "Access to the requested resource was denied")
    if approval["reviewStatus"] != "approved" or approval["status"] != "pending":
        return _ld_error(400, "invalid_request", "approval request is not approved")
    project, key, env = approval["_flag"]
    body = {"environmentKey": env, "instructions": approval["instructions"]}
    state.ld_apply(
        state.ld_flags[(project, key)], {**body, "comment": approval["comment"]}, "rollbot@sandbox"
    )
    approval.update(status="completed", appliedDate=state.now_ms())
    approval["appliedByMemberId"] = "member-rollbot"
    return web.json_response(_shown(approval))


# --- Unleash change requests ----------------------------------------------------------


def _unleash_error(status: int, name: str, message: str) -> web.Response:
    return web.json_response({"name": name, "message": message}, status=status)


def _enterprise(request: web.Request) -> web.Response | None:
    refused = unleash_guard(request)
    if refused is not None:
        return refused
    if request.app[STATE].unleash_edition != "enterprise":
        return _unleash_error(404, "NotFoundError", "Could not find the requested resource")
    return None


async def unleash_config(request: web.Request) -> web.Response:
    refused = _enterprise(request)
    if refused is not None:
        return refused
    state, project = request.app[STATE], request.match_info["project"]
    envs = sorted(
        {
            e["name"]
            for (p, _), f in state.unleash.items()
            if p == project
            for e in f["environments"]
        }
    )
    return web.json_response(
        [
            {
                "environment": env,
                "type": env,
                "changeRequestEnabled": (project, env) in state.unleash_change_requests,
                "requiredApprovals": state.unleash_change_requests.get((project, env), 1),
            }
            for env in envs
        ]
    )


async def unleash_create_change(request: web.Request) -> web.Response:
    refused = _enterprise(request)
    if refused is not None:
        return refused
    state, body = request.app[STATE], await request.json()
    project, env = request.match_info["project"], request.match_info["env"]
    if (project, body.get("feature")) not in state.unleash:
        return _unleash_error(404, "NotFoundError", "Could not find feature")
    change_id = state.next_change_request()
    state.unleash_requests[change_id] = {
        "id": change_id,
        "title": f"Change request #{change_id}",
        "environment": env,
        "project": project,
        "state": "Draft",
        "minApprovals": state.unleash_change_requests.get((project, env), 1),
        "features": [{"name": body["feature"], "changes": [{"id": 1, **body}]}],
        "comments": [],
        "approvals": [],
        "rejections": [],
        "createdBy": {"username": "rollbot"},
    }
    return web.json_response(state.unleash_requests[change_id])


def _change(request: web.Request) -> dict[str, Any] | web.Response:
    refused = _enterprise(request)
    if refused is not None:
        return refused
    found = request.app[STATE].unleash_requests.get(int(request.match_info["id"]))
    if found is None:
        return _unleash_error(404, "NotFoundError", "Could not find change request")
    return found


async def unleash_get_change(request: web.Request) -> web.Response:
    change = _change(request)
    return change if isinstance(change, web.Response) else web.json_response(change)


async def unleash_comment(request: web.Request) -> web.Response:
    change = _change(request)
    if isinstance(change, web.Response):
        return change
    change["comments"].append({"text": (await request.json()).get("text", "")})
    return web.json_response(change)


def _apply_change(state: FlagsState, change: dict[str, Any]) -> None:
    for feature in change["features"]:
        found = state.unleash[(change["project"], feature["name"])]
        for env in found["environments"]:
            if env["name"] == change["environment"]:
                for step in feature["changes"]:
                    env["enabled"] = bool(step["payload"]["enabled"])


async def unleash_change_state(request: web.Request) -> web.Response:
    change = _change(request)
    if isinstance(change, web.Response):
        return change
    state, wanted = request.app[STATE], (await request.json()).get("state")
    allowed = {"Draft": {"In review", "Cancelled"}, "In review": {"Cancelled"}}
    allowed["Approved"] = {"Applied", "Cancelled"}
    if wanted not in allowed.get(change["state"], set()):
        return _unleash_error(400, "BadDataError", f"cannot go from {change['state']} to {wanted}")
    if wanted == "Applied":
        if not state.may_apply:
            return _unleash_error(403, "PermissionError", "You need APPLY_CHANGE_REQUEST")
        _apply_change(state, change)
    change["state"] = wanted
    return web.json_response(change)


def add_review_routes(app: web.Application) -> None:
    app.router.add_get("/api/v2/projects/{project}/environments/{env}", ld_environment)
    app.router.add_post(_LD_BASE, ld_create_approval)
    app.router.add_get(_LD_BASE + "/{id}", ld_get_approval)
    app.router.add_post(_LD_BASE + "/{id}/apply", ld_apply_approval)
    app.router.add_get(_UNLEASH + "/change-requests/config", unleash_config)
    app.router.add_post(_UNLEASH + "/environments/{env}/change-requests", unleash_create_change)
    app.router.add_get(_UNLEASH + "/change-requests/{id:\\d+}", unleash_get_change)
    app.router.add_post(_UNLEASH + "/change-requests/{id:\\d+}/comments", unleash_comment)
    app.router.add_put(_UNLEASH + "/change-requests/{id:\\d+}/state", unleash_change_state)
