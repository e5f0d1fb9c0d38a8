"""The CodeDeploy operations the sandbox answers, in the shapes of the CodeDeploy API reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.codedeploy.state import ACTIVE, CodeDeployState, Deployment


class AwsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Operation = Callable[[CodeDeployState, dict[str, Any]], dict[str, Any]]
OPERATIONS: dict[str, Operation] = {}


def operation(name: str) -> Callable[[Operation], Operation]:
    def register(fn: Operation) -> Operation:
        OPERATIONS[name] = fn
        return fn

    return register


def _required(args: dict[str, Any], name: str) -> Any:
    if not args.get(name):
        raise AwsError(f"{name[0].upper()}{name[1:]}RequiredException", f"{name} is required")
    return args[name]


def _group(state: CodeDeployState, args: dict[str, Any]) -> tuple[str, str]:
    app = _required(args, "applicationName")
    group = _required(args, "deploymentGroupName")
    if app not in state.applications:
        raise AwsError(
            "ApplicationDoesNotExistException",
            f"The application {app} does not exist with the user or AWS account.",
        )
    if (app, group) not in state.groups:
        raise AwsError(
            "DeploymentGroupDoesNotExistException",
            f"The deployment group {group} does not exist with the user or AWS account.",
        )
    return app, group


def _deployment(state: CodeDeployState, deployment_id: str) -> Deployment:
    found = state.deployments.get(deployment_id)
    if found is None:
        raise AwsError(
            "DeploymentDoesNotExistException",
            f"The deployment {deployment_id} does not exist with the user or AWS account.",
        )
    state.advance(found)
    return found


def deployment_info(d: Deployment) -> dict[str, Any]:
    info: dict[str, Any] = {
        "applicationName": d.app,
        "deploymentGroupName": d.group,
        "deploymentConfigName": "CodeDeployDefault.OneAtATime",
        "deploymentId": d.id,
        "revision": d.revision,
        "status": d.status,
        "createTime": d.created,
        "creator": d.creator,
        "description": d.description,
        "deploymentOverview": d.overview(),
        "computePlatform": d.platform,
        "deploymentStyle": _style(d.platform),
    }
    if d.status != "Created":
        info["startTime"] = d.created
    if d.completed is not None:
        info["completeTime"] = d.completed
    if d.rollback_info:
        info["rollbackInfo"] = d.rollback_info
    if d.status == "Failed" and d.fail_with:
        info["errorInformation"] = {"code": "SCRIPT_FAILED", "message": d.fail_with}
    return info


def _style(platform: str) -> dict[str, str]:
    """ECS and Lambda deployments are always blue/green with traffic control."""
    if platform == "Server":
        return {"deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"}
    return {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}


def _summary(d: Deployment | None) -> dict[str, Any] | None:
    if d is None:
        return None
    out: dict[str, Any] = {"deploymentId": d.id, "status": d.status, "createTime": d.created}
    if d.completed is not None:
        out["endTime"] = d.completed
    return out


@operation("GetDeploymentGroup")
def get_deployment_group(state: CodeDeployState, args: dict[str, Any]) -> dict[str, Any]:
    app, group = _group(state, args)
    history = state.of_group(app, group)
    succeeded = [d for d in history if d.status == "Succeeded"]
    settings = state.groups[(app, group)]
    rollback = (
        {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}
        if settings["auto_rollback"]
        else {"enabled": False}
    )
    info: dict[str, Any] = {
        "applicationName": app,
        "deploymentGroupId": state.groups[(app, group)]["id"],
        "deploymentGroupName": group,
        "deploymentConfigName": "CodeDeployDefault.OneAtATime",
        "serviceRoleArn": "arn:aws:iam::123456789012:role/codedeploy",
        "autoRollbackConfiguration": rollback,
        "computePlatform": settings["platform"],
        "deploymentStyle": _style(settings["platform"]),
    }
    if history:
        info["lastAttemptedDeployment"] = _summary(history[-1])
    if succeeded:
        info["lastSuccessfulDeployment"] = _summary(succeeded[-1])
    return {"deploymentGroupInfo": info}


@operation("ListDeployments")
def list_deployments(state: CodeDeployState, args: dict[str, Any]) -> dict[str, Any]:
    """Pages of ids with a nextToken, in the order the scenario picked (the API promises none),
    filtered by status and by createTimeRange as the API reference describes."""
    app, group = _group(state, args)
    statuses = set(args.get("includeOnlyStatuses") or [])
    window = args.get("createTimeRange") or {}
    start, end = window.get("start", float("-inf")), window.get("end", float("inf"))
    found = [
        d.id
        for d in state.of_group(app, group)
        if (not statuses or d.status in statuses) and start <= d.created <= end
    ]
    if state.list_order == "newest":
        found.reverse()
    token = args.get("nextToken")
    offset = int(token.removeprefix("page-")) if token else 0
    if token and (not token.startswith("page-") or offset > len(found)):
        raise AwsError(
            "InvalidNextTokenException", "The next token was specified in an invalid format."
        )
    page = found[offset : offset + state.page_size]
    answer: dict[str, Any] = {"deployments": page}
    if offset + state.page_size < len(found):
        answer["nextToken"] = f"page-{offset + state.page_size}"
    return answer


@operation("GetDeployment")
def get_deployment(state: CodeDeployState, args: dict[str, Any]) -> dict[str, Any]:
    return {"deploymentInfo": deployment_info(_deployment(state, _required(args, "deploymentId")))}


@operation("BatchGetDeployments")
def batch_get_deployments(state: CodeDeployState, args: dict[str, Any]) -> dict[str, Any]:
    ids = _required(args, "deploymentIds")
    if len(ids) > 25:
        raise AwsError(
            "BatchLimitExceededException",
            "The maximum number of names or IDs allowed for this request (25) was exceeded.",
        )
    return {
        "deploymentsInfo": [
            deployment_info(_deployment(state, i)) for i in ids if i in state.deployments
        ]
    }


@operation("GetApplicationRevision")
def get_application_revision(state: CodeDeployState, args: dict[str, Any]) -> dict[str, Any]:
    app = _required(args, "applicationName")
    revision = _required(args, "revision")
    used = [d for d in state.deployments.values() if d.app == app and d.revision == revision]
    if not used:
        raise AwsError("RevisionDoesNotExistException", "No application revision found")
    return {
        "applicationName": app,
        "revision": revision,
        "revisionInfo": {
            "deploymentGroups": sorted({d.group for d in used}),
            "firstUsedTime": min(d.created for d in used),
            "lastUsedTime": max(d.created for d in used),
            "registerTime": min(d.created for d in used),
        },
    }


@operation("CreateDeployment")
def create_deployment(state: CodeDeployState, args: dict[str, Any]) -> dict[str, Any]:
    app, group = _group(state, args)
    if any(d.status in ACTIVE for d in state.of_group(app, group)):
        raise AwsError(
            "DeploymentLimitExceededException",
            f"The Deployment Group '{group}' already has an active Deployment",
        )
    revision = _required(args, "revision")
    deployment = state.start(app, group, revision, description=args.get("description", ""))
    return {"deploymentId": deployment.id}


@operation("StopDeployment")
def stop_deployment(state: CodeDeployState, args: dict[str, Any]) -> dict[str, Any]:
    """Stop an active deployment; with autoRollbackEnabled, redeploy the last good revision."""
    deployment = _deployment(state, _required(args, "deploymentId"))
    if deployment.status not in ACTIVE or deployment.stopping_at is not None:
        raise AwsError(
            "DeploymentAlreadyCompletedException",
            f"Deployment {deployment.id} is already completed",
        )
    status = state.stop(deployment, rollback=bool(args.get("autoRollbackEnabled")))
    message = "Stopping deployment" if status == "Pending" else "Deployment stopped"
    return {"status": status, "statusMessage": message}


@operation("CreateApplication")
def create_application(state: CodeDeployState, args: dict[str, Any]) -> dict[str, Any]:
    app = _required(args, "applicationName")
    if app in state.applications:
        raise AwsError("ApplicationAlreadyExistsException", f"The application {app} already exists")
    state.applications.add(app)
    return {"applicationId": f"app-{app}"}


@operation("CreateDeploymentGroup")
def create_deployment_group(state: CodeDeployState, args: dict[str, Any]) -> dict[str, Any]:
    app = _required(args, "applicationName")
    group = _required(args, "deploymentGroupName")
    _required(args, "serviceRoleArn")
    if app not in state.applications:
        raise AwsError(
            "ApplicationDoesNotExistException",
            f"The application {app} does not exist with the user or AWS account.",
        )
    state.add_group(app, group)
    return {"deploymentGroupId": state.groups[(app, group)]["id"]}
