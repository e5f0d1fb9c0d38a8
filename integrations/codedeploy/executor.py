"""AWS CodeDeploy rollbacks through boto3: the calls. Which way back is chosen in plan.py.

The new deployment is followed with GetDeployment until it ends; throttling and 5xx answers are
ridden out while polling, within a deadline. A target's revision, as rollbot records it, is the
deployment ID of the group's latest deployment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bot.audit.readable import fields, table
from bot.domain.request import RollbackRequest, TargetRef
from bot.ports import (
    EvidenceWindow,
    ExecutionError,
    ExecutionResult,
    Fence,
    NothingChangedError,
    Preflight,
    Progress,
    ReadableEvidence,
    TargetUnavailableError,
    UnknownTargetError,
)
from integrations.codedeploy.plan import ACTIVE, Plan, choose_plan, revision_label

_NOT_FOUND = {
    "ApplicationDoesNotExistException",
    "DeploymentGroupDoesNotExistException",
    "DeploymentDoesNotExistException",
}
# Worth asking again while polling a deployment; anything else ends the rollback.
_TRANSIENT = {"ThrottlingException", "InternalFailure", "ServiceUnavailable", "Unreachable"}
POLL_MISSES = 5  # transient failures in a row that still count as "CodeDeploy is busy"
BATCH = 25  # BatchGetDeployments takes at most 25 ids
HISTORY_PAGES = 40  # ListDeployments pages read at most, within the history window


class CodeDeployCallError(TargetUnavailableError):
    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"CodeDeploy answered {operation} with {code}: {message}")
        self.code = code


class CodeDeployExecutor:
    def __init__(
        self,
        client: Any,
        *,
        poll_seconds: float = 5.0,
        timeout_seconds: float = 3600,
        stop_timeout_seconds: float = 300,
        history_days: float = 90,
    ) -> None:
        self._client = client  # a boto3 CodeDeploy client; its endpoint_url picks the service
        self._poll = poll_seconds
        self._timeout = timeout_seconds
        # how long CodeDeploy may take to act on a stop and name its rollback deployment
        self._stop_timeout = stop_timeout_seconds
        # ListDeployments is read back this far (createTimeRange); older deployments count only
        # through GetDeploymentGroup's lastSuccessfulDeployment
        self._history_seconds = history_days * 86400

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
        """Every deployment in the window, oldest first: ListDeployments is paginated and in no
        particular order, so all pages are read and the details sorted by createTime."""
        window = {"start": time.time() - self._history_seconds, "end": time.time() + 60}
        ids: list[str] = []
        token: str | None = None
        for _ in range(HISTORY_PAGES):
            page = await self._ask(
                "list_deployments",
                applicationName=app,
                deploymentGroupName=group,
                createTimeRange=window,
                **({"nextToken": token} if token else {}),
            )
            ids.extend(page.get("deployments") or [])
            token = page.get("nextToken")
            if not token:
                break
        infos: list[dict[str, Any]] = []
        for at in range(0, len(ids), BATCH):
            batch = await self._ask("batch_get_deployments", deploymentIds=ids[at : at + BATCH])
            infos.extend(batch["deploymentsInfo"])
        return sorted(infos, key=lambda d: d["createTime"])

    async def _plan(self, target: TargetRef, to_revision: str | None) -> Plan:
        app, group = self._names(target)
        group_info = (
            await self._ask("get_deployment_group", applicationName=app, deploymentGroupName=group)
        )["deploymentGroupInfo"]
        history = await self._history(app, group)
        named = (group_info.get("lastSuccessfulDeployment") or {}).get("deploymentId")
        last_successful = next((d for d in history if d["deploymentId"] == named), None)
        if named and last_successful is None:  # older than the window: read it by its id
            last_successful = (await self._ask("get_deployment", deploymentId=named))[
                "deploymentInfo"
            ]
        return choose_plan(group_info, history, last_successful, to_revision, target.label)

    async def preflight(
        self, target: TargetRef, to_revision: str | None, to_migration: str | None = None
    ) -> Preflight:
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
            await progress(f"restoring {plan.good['deploymentId']}: {plan.reason}")
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

    async def resume(
        self, request: RollbackRequest, progress: Progress, fence: Fence | None = None
    ) -> ExecutionResult:
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

    async def _poll_once(self, deployment: str) -> dict[str, Any]:
        """GetDeployment, riding out throttling and 5xx as long as CodeDeploy is only busy."""
        for miss in range(1, POLL_MISSES + 1):
            try:
                info: dict[str, Any] = (await self._ask("get_deployment", deploymentId=deployment))[
                    "deploymentInfo"
                ]
                return info
            except CodeDeployCallError as exc:
                if exc.code not in _TRANSIENT or miss == POLL_MISSES:
                    raise ExecutionError(
                        f"lost track of {deployment} ({exc}); check it in the CodeDeploy console"
                    ) from None
                await asyncio.sleep(self._poll)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _stop(self, plan: Plan, progress: Progress) -> str:
        bad = plan.latest["deploymentId"]
        if plan.latest["status"] == "Ready":
            await progress(
                f"{bad} is waiting in Ready: its replacement is up but takes no production "
                "traffic; stopping it keeps traffic where it was"
            )
        answer = await self._ask("stop_deployment", deploymentId=bad, autoRollbackEnabled=True)
        await progress(f"stopped {bad} with automatic rollback: {answer.get('statusMessage', '')}")
        loop = asyncio.get_running_loop()
        deadline, stopped_polls = loop.time() + self._stop_timeout, 0
        while True:
            info = await self._poll_once(bad)
            rollback = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId")
            if rollback:
                await progress(f"CodeDeploy started rollback deployment {rollback}")
                return str(rollback)
            # CodeDeploy names the rollback deployment shortly after the stop; give it a while.
            stopped_polls += info["status"] not in ACTIVE
            if stopped_polls > 12:
                message = (info.get("rollbackInfo") or {}).get("rollbackMessage", "no reason given")
                raise ExecutionError(f"CodeDeploy stopped {bad} but started no rollback: {message}")
            if loop.time() > deadline:
                raise ExecutionError(
                    f"CodeDeploy accepted the stop of {bad} but it is still {info['status']} and "
                    f"no rollback deployment was started within {self._stop_timeout:g} s; "
                    "check it in the CodeDeploy console"
                )
            await asyncio.sleep(self._poll)

    async def _redeploy(self, plan: Plan, request: RollbackRequest, progress: Progress) -> str:
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

    async def _follow(
        self, deployment: str, progress: Progress, *, answered: bool = False
    ) -> dict[str, Any]:
        """Poll until the deployment ends. When it fails and the group's own automatic rollback
        answers with a deployment, follow that one too and say what is live at the end."""
        loop = asyncio.get_running_loop()
        deadline, said, waited = loop.time() + self._timeout, "", False
        while True:
            info = await self._poll_once(deployment)
            overview = info.get("deploymentOverview") or {}
            total = sum(int(v) for v in overview.values())
            line = f"{deployment} {info['status']}: {overview.get('Succeeded', 0)} of {total} instances done"
            if line != said:
                await progress(line)
                said = line
            if info["status"] == "Ready" and not waited:
                waited = True
                await progress(
                    f"{deployment} is waiting in Ready: traffic moves only when someone "
                    "continues it (ContinueDeployment) or its wait runs out"
                )
            if info["status"] == "Succeeded":
                return info
            if info["status"] not in ACTIVE:
                await self._failed(deployment, info, progress, answered)
            if loop.time() > deadline:
                raise ExecutionError(f"{deployment} did not finish in {self._timeout:.0f} s")
            await asyncio.sleep(self._poll)

    async def _failed(
        self, deployment: str, info: dict[str, Any], progress: Progress, answered: bool
    ) -> None:
        error = (info.get("errorInformation") or {}).get("message", "no reason given")
        failed = f"rollback deployment {deployment} {info['status']}: {error}"
        again = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId")
        if not again or answered:
            raise ExecutionError(failed)
        await progress(
            f"{failed}; the group's automatic rollback answered with {again}, following it"
        )
        try:
            final = await self._follow(str(again), progress, answered=True)
        except ExecutionError as exc:
            raise ExecutionError(f"{failed}; then {exc}") from None
        raise ExecutionError(
            f"{failed}. The group's automatic rollback then deployed "
            f"{revision_label(final['revision'])} with {again}: live now is the revision that was "
            "live before this rollback"
        )

    async def capture(self, target: TargetRef) -> dict[str, Any]:
        app, group = self._names(target)
        info = (
            await self._ask("get_deployment_group", applicationName=app, deploymentGroupName=group)
        )["deploymentGroupInfo"]
        keep = (
            "deploymentId",
            "status",
            "revision",
            "createTime",
            "completeTime",
            "creator",
            "deploymentOverview",
        )
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

    async def readable(
        self, target: TargetRef, captured: Mapping[str, Any], window: EvidenceWindow
    ) -> ReadableEvidence:
        return ReadableEvidence(
            files={f"codedeploy-{window.moment.value}.txt": codedeploy_text(captured)}
        )


def codedeploy_text(captured: Mapping[str, Any]) -> str:
    """The deployment group's details and each recent deployment's instance summary, as the
    CodeDeploy console's deployment page shows them."""
    if "codedeploy" not in captured:
        return "the capture failed: nothing was read from CodeDeploy\n"
    last = captured.get("lastSuccessfulDeployment") or {}
    tried = captured.get("lastAttemptedDeployment") or {}
    head = fields(
        f"Deployment group {captured['codedeploy']}",
        [
            ("Last successful deployment", last.get("deploymentId")),
            ("  status", last.get("status")),
            ("  ended", last.get("endTime")),
            ("Last attempted deployment", tried.get("deploymentId")),
            ("  status", tried.get("status")),
            ("  ended", tried.get("endTime")),
        ],
    )
    rows = []
    for d in captured.get("recentDeployments") or []:
        o = d.get("deploymentOverview") or {}
        instances = " ".join(
            f"{k.lower()} {o[k]}"
            for k in ("Succeeded", "Failed", "InProgress", "Pending", "Skipped")
            if o.get(k)
        )
        rows.append(
            (
                d.get("deploymentId", ""),
                d.get("status", ""),
                d.get("createTime", ""),
                d.get("creator", ""),
                instances or "-",
                (d.get("rollbackInfo") or {}).get("rollbackDeploymentId") or "-",
            )
        )
    recent = table(
        ("deployment", "status", "created", "creator", "instances", "rolled back by"), rows
    )
    return f"{head}\nRecent deployments\n{recent}"
