"""AWS CodeDeploy rollbacks through boto3.

Two ways back, both CodeDeploy's own: a deployment still running is stopped with automatic
rollback (CodeDeploy redeploys the last successful revision); a finished bad deployment is
rolled back by redeploying the revision of an earlier successful deployment. Either way the
new deployment is followed with GetDeployment until it ends. A target's revision, as rollbot
records it, is the deployment ID of the group's latest deployment.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bot.domain.request import RollbackRequest, TargetRef
from bot.ports import (
    ExecutionError,
    ExecutionResult,
    Fence,
    NothingChangedError,
    Preflight,
    Progress,
    TargetUnavailableError,
    UnknownTargetError,
)

ACTIVE = frozenset({"Created", "Queued", "InProgress", "Ready", "Baking"})
_NOT_FOUND = {
    "ApplicationDoesNotExistException",
    "DeploymentGroupDoesNotExistException",
    "DeploymentDoesNotExistException",
}
# Worth asking again while following a deployment; anything else ends the rollback.
_TRANSIENT = {"ThrottlingException", "InternalFailure", "ServiceUnavailable", "Unreachable"}


class CodeDeployCallError(TargetUnavailableError):
    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"CodeDeploy answered {operation} with {code}: {message}")
        self.code = code


def revision_label(revision: dict[str, Any]) -> str:
    s3 = revision.get("s3Location")
    if s3:
        return f"s3://{s3.get('bucket')}/{s3.get('key')}"
    github = revision.get("gitHubLocation")
    if github:
        return f"{github.get('repository')}@{str(github.get('commitId', ''))[:12]}"
    return str(revision.get("revisionType", "revision"))


@dataclass(frozen=True)
class _Plan:
    app: str
    group: str
    latest: dict[str, Any]
    # "stop": stop `latest` and let CodeDeploy roll back; "redeploy": deploy `good`'s revision.
    mode: str
    good: dict[str, Any]

    def describe(self) -> str:
        bad, good = self.latest, self.good
        if self.mode == "stop":
            return (
                f"stop {bad['deploymentId']} ({bad['status']}, {revision_label(bad['revision'])}) "
                f"with automatic rollback to {revision_label(good['revision'])} "
                f"(last successful: {good['deploymentId']})"
            )
        return (
            f"redeploy {revision_label(good['revision'])} (from {good['deploymentId']}) over "
            f"{bad['deploymentId']} ({revision_label(bad['revision'])})"
        )


class CodeDeployExecutor:
    def __init__(
        self, client: Any, *, poll_seconds: float = 5.0, timeout_seconds: float = 3600
    ) -> None:
        self._client = client  # a boto3 CodeDeploy client; its endpoint_url picks the service
        self._poll = poll_seconds
        self._timeout = timeout_seconds

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self._client, operation)(**kwargs)
            return answer
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "?")), str(error.get("Message", ""))
            if code in _NOT_FOUND:
                raise UnknownTargetError(f"CodeDeploy: {message}") from None
            raise CodeDeployCallError(exc.operation_name, code, message) from None
        except BotoCoreError as exc:
            aws_name = operation.title().replace("_", "")  # list_deployments -> ListDeployments
            raise CodeDeployCallError(aws_name, "Unreachable", str(exc)) from None

    async def _ask(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self._call, operation, **kwargs)

    @staticmethod
    def _names(target: TargetRef) -> tuple[str, str]:
        app, _, group = target.name.partition("/")
        return app, group

    async def _history(self, app: str, group: str) -> list[dict[str, Any]]:
        ids = (await self._ask("list_deployments", applicationName=app, deploymentGroupName=group))[
            "deployments"
        ]
        if not ids:
            return []
        infos = (await self._ask("batch_get_deployments", deploymentIds=ids[:25]))[
            "deploymentsInfo"
        ]
        return sorted(infos, key=lambda d: d["createTime"])

    async def _plan(self, target: TargetRef, to_revision: str | None) -> _Plan:
        app, group = self._names(target)
        await self._ask("get_deployment_group", applicationName=app, deploymentGroupName=group)
        history = await self._history(app, group)
        if not history:
            raise UnknownTargetError(f"`{target.label}` has no deployments to roll back")
        latest = history[-1]
        succeeded = [d for d in history[:-1] if d["status"] == "Succeeded"]
        if to_revision is not None:
            chosen = next((d for d in history if d["deploymentId"] == to_revision), None)
            if chosen is None or chosen["status"] != "Succeeded":
                raise UnknownTargetError(
                    f"{to_revision} is not a successful deployment of `{target.label}`"
                )
        else:
            # the newest earlier success that deployed something else than the bad revision
            different = [d for d in succeeded if d["revision"] != latest["revision"]]
            if not different:
                raise UnknownTargetError(
                    f"`{target.label}` has no earlier successful deployment of another revision"
                )
            chosen = different[-1]
        if latest["status"] in ACTIVE:
            last_good = succeeded[-1] if succeeded else None
            if last_good is None or last_good["deploymentId"] != chosen["deploymentId"]:
                raise UnknownTargetError(
                    f"{latest['deploymentId']} is still running: CodeDeploy can stop it and roll "
                    "back only to the last successful deployment; ask without --to-revision"
                )
            return _Plan(app, group, latest, "stop", chosen)
        return _Plan(app, group, latest, "redeploy", chosen)

    async def preflight(self, target: TargetRef, to_revision: str | None) -> Preflight:
        plan = await self._plan(target, to_revision)
        return Preflight(
            live_revision=plan.latest["deploymentId"],
            to_revision=plan.good["deploymentId"],
            summary=plan.describe(),
            changes=(f"revision {revision_label(plan.good['revision'])}",),
            live_identity=revision_label(plan.latest["revision"]),
            to_identity=revision_label(plan.good["revision"]),
        )

    async def live_revision(self, target: TargetRef) -> str | None:
        history = await self._history(*self._names(target))
        return history[-1]["deploymentId"] if history else None

    async def execute(
        self, request: RollbackRequest, progress: Progress, fence: Fence
    ) -> ExecutionResult:
        try:
            plan = await self._plan(request.target, request.to_revision)
            await fence()
            if plan.mode == "stop":
                following = await self._stop(plan, progress)
            else:
                following = await self._redeploy(plan, request, progress)
            final = await self._follow(following, progress)
        except TargetUnavailableError as exc:
            raise ExecutionError(str(exc)) from None
        return ExecutionResult(
            from_revision=plan.latest["deploymentId"],
            to_revision=final["deploymentId"],
            detail=f"{revision_label(final['revision'])} deployed by {final['deploymentId']}",
        )

    async def resume(self, request: RollbackRequest, progress: Progress) -> ExecutionResult:
        """Follow the deployment rollbot's request started (by its description), or the rollback
        CodeDeploy started when rollbot stopped the bad one."""
        try:
            history = await self._history(*self._names(request.target))
            ours = [
                d
                for d in history
                if str(d.get("description", "")).startswith(f"rollbot {request.id}:")
            ]
            stopped = next(
                (d for d in history if d["deploymentId"] == request.baseline_revision), {}
            )
            following = (
                ours[-1]["deploymentId"]
                if ours
                else (stopped.get("rollbackInfo") or {}).get("rollbackDeploymentId")
            )
            if not following:
                raise NothingChangedError(
                    f"`{request.target.label}` has no deployment started by this rollback"
                )
            await progress(f"following {following}, which this rollback started")
            final = await self._follow(str(following), progress)
        except TargetUnavailableError as exc:
            raise ExecutionError(str(exc)) from None
        return ExecutionResult(
            from_revision=request.baseline_revision,
            to_revision=final["deploymentId"],
            detail=f"{revision_label(final['revision'])} deployed by {final['deploymentId']}",
        )

    async def _stop(self, plan: _Plan, progress: Progress) -> str:
        bad = plan.latest["deploymentId"]
        answer = await self._ask("stop_deployment", deploymentId=bad, autoRollbackEnabled=True)
        await progress(f"stopped {bad} with automatic rollback: {answer.get('statusMessage', '')}")
        stopped_polls = 0
        while True:
            info = (await self._ask("get_deployment", deploymentId=bad))["deploymentInfo"]
            rollback = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId")
            if rollback:
                await progress(f"CodeDeploy started rollback deployment {rollback}")
                return str(rollback)
            # CodeDeploy names the rollback deployment shortly after the stop; give it a while.
            stopped_polls += info["status"] not in ACTIVE
            if stopped_polls > 12:
                message = (info.get("rollbackInfo") or {}).get("rollbackMessage", "no reason given")
                raise ExecutionError(f"CodeDeploy stopped {bad} but started no rollback: {message}")
            await asyncio.sleep(self._poll)

    async def _redeploy(self, plan: _Plan, request: RollbackRequest, progress: Progress) -> str:
        answer = await self._ask(
            "create_deployment",
            applicationName=plan.app,
            deploymentGroupName=plan.group,
            revision=plan.good["revision"],
            description=f"rollbot {request.id}: roll back to the revision of {plan.good['deploymentId']}",
        )
        deployment = str(answer["deploymentId"])
        await progress(f"created deployment {deployment}: {plan.describe()}")
        return deployment

    async def _follow(self, deployment: str, progress: Progress) -> dict[str, Any]:
        """Poll until the deployment ends; transient API errors are waited out a few times."""
        deadline = asyncio.get_running_loop().time() + self._timeout
        said, misses = "", 0
        while True:
            try:
                answer = await self._ask("get_deployment", deploymentId=deployment)
                info: dict[str, Any] = answer["deploymentInfo"]
                misses = 0
            except CodeDeployCallError as exc:
                misses += 1
                if exc.code not in _TRANSIENT or misses >= 5:
                    raise ExecutionError(
                        f"lost track of {deployment} ({exc}); check it in the CodeDeploy console"
                    ) from None
                await asyncio.sleep(self._poll)
                continue
            overview = info.get("deploymentOverview") or {}
            total = sum(int(v) for v in overview.values())
            line = f"{deployment} {info['status']}: {overview.get('Succeeded', 0)} of {total} instances done"
            if line != said:
                await progress(line)
                said = line
            if info["status"] == "Succeeded":
                return info
            if info["status"] not in ACTIVE:
                error = (info.get("errorInformation") or {}).get("message", "no reason given")
                raise ExecutionError(f"rollback deployment {deployment} {info['status']}: {error}")
            if asyncio.get_running_loop().time() > deadline:
                raise ExecutionError(f"{deployment} did not finish in {self._timeout:.0f} s")
            await asyncio.sleep(self._poll)

    async def capture(self, target: TargetRef) -> dict[str, Any]:
        app, group = self._names(target)
        info = (
            await self._ask("get_deployment_group", applicationName=app, deploymentGroupName=group)
        )["deploymentGroupInfo"]
        keep = ("deploymentId", "status", "revision", "createTime", "completeTime", "creator")
        recent = [
            {k: d[k] for k in (*keep, "rollbackInfo", "description") if k in d}
            for d in (await self._history(app, group))[-5:]
        ]
        return {
            "codedeploy": target.label,
            "lastSuccessfulDeployment": info.get("lastSuccessfulDeployment"),
            "lastAttemptedDeployment": info.get("lastAttemptedDeployment"),
            "recentDeployments": recent,
        }
