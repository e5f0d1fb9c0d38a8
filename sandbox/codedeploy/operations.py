"""The CodeDeploy operations the sandbox answers, in the shapes of the CodeDeploy API reference."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sandbox.codedeploy.state import CodeDeployState, Deployment


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
    found.advance()
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
        "computePlatform": "Server",
        "deploymentStyle": {
            "deploymentType": "IN_PLACE",
            "deploymentOption": "WITHOUT_TRAFFIC_CONTROL",
        },
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
    info: dict[str, Any] = {
        "applicationName": app,
        "deploymentGroupId": state.groups[(app, group)]["id"],
        "deploymentGroupName": group,
        "deploymentConfigName": "CodeDeployDefault.OneAtATime",
        "serviceRoleArn": "arn:aws:iam::123456789012:role/codedeploy",
        "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
        "computePlatform": "Server",
    }
    if history:
        info["lastAttemptedDeployment"] = _summary(history[-1])
    if succeeded:
        info["lastSuccessfulDeployment"] = _summary(succeeded[-1])
    return {"deploymentGroupInfo": info}


@operation("ListDeployments")
def list_deployments(state: CodeDeployState, args: dict[str, Any]) -> dict[str, Any]:
    app, group = _group(state, args)
    statuses = set(args.get("includeOnlyStatuses") or [])
    found = [
        d.id for d in reversed(state.of_group(app, group)) if not statuses or d.status in statuses
    ]
    return {"deployments": found}


@operation("GetDeployment")
def get_deployment(state: CodeDeployState, args: dict[str, Any]) -> dict[str, Any]:
    return {"deploymentInfo": deployment_info(_deployment(state, _required(args, "deploymentId")))}


@operation("BatchGetDeployments")
def batch_get_deployments(state: CodeDeployState, args: dict[str, Any]) -> dict[str, Any]:
    ids = _required(args, "deploymentIds")
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
    if any(d.status in ("Created", "InProgress") for d in state.of_group(app, group)):
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
    if deployment.status not in ("Created", "Queued", "InProgress", "Ready", "Baking"):
        raise AwsError(
            "DeploymentAlreadyCompletedException",
            f"Deployment {deployment.id} is already completed",
        )
    deployment.status = "Stopped"
    deployment.completed = time.time()
    if not args.get("autoRollbackEnabled"):
        return {"status": "Succeeded", "statusMessage": "Deployment stopped"}
    good = [d for d in state.of_group(deployment.app, deployment.group) if d.status == "Succeeded"]
    if not good:
        deployment.rollback_info = {"rollbackMessage": "No deployment found for rollback."}
        return {
            "status": "Succeeded",
            "statusMessage": "Deployment stopped; nothing to roll back to",
        }
    rollback = state.start(
        deployment.app,
        deployment.group,
        good[-1].revision,
        creator="autoRollback",
        description=f"Rollback of {deployment.id}",
    )
    rollback.rollback_info = {
        "rollbackTriggeringDeploymentId": deployment.id,
        "rollbackMessage": f"Automatic rollback of {deployment.id}",
    }
    deployment.rollback_info = {
        "rollbackDeploymentId": rollback.id,
        "rollbackMessage": f"Deployment {deployment.id} stopped; rolling back with {rollback.id}",
    }
    return {"status": "Pending", "statusMessage": "Stopping deployment; rollback starts"}


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
