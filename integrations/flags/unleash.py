"""Feature-flag rollbacks on Unleash (admin API): turn a feature off in one environment.

Unleash keeps no version of a feature's environment state that rollbot could restore, so the
revision rollbot records is the state itself (enabled/disabled) and the only way back is off.
"""

from __future__ import annotations

from typing import Any

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
from integrations.flags.http import JsonApi


class UnleashExecutor:
    def __init__(self, api: JsonApi, project: str) -> None:
        self._api = api
        self._project = project

    def _path(self, target: TargetRef) -> str:
        return f"/api/admin/projects/{self._project}/features/{target.name}"

    async def _read(self, target: TargetRef) -> tuple[dict[str, Any], bool]:
        env = target.namespace or "production"
        feature = await self._api.call("GET", self._path(target))
        found = next((e for e in feature.get("environments") or [] if e.get("name") == env), None)
        if found is None:
            raise UnknownTargetError(f"Unleash feature `{target.name}` has no environment {env}")
        return feature, bool(found.get("enabled"))

    @staticmethod
    def _revision(enabled: bool) -> str:
        return "enabled" if enabled else "disabled"

    async def preflight(self, target: TargetRef, to_revision: str | None) -> Preflight:
        if to_revision is not None:
            raise UnknownTargetError(
                "Unleash keeps no versions rollbot can restore; leave out --to-revision to turn "
                "the feature off"
            )
        _, enabled = await self._read(target)
        if not enabled:
            raise UnknownTargetError(f"`{target.label}` is already off; nothing to roll back")
        return Preflight(
            live_revision="enabled",
            to_revision="disabled",
            summary=f"turn Unleash feature `{target.name}` off in {target.namespace} (kill switch)",
            changes=("flag enabled → disabled",),
            live_identity=f"`{target.name}` on",
            to_identity=f"`{target.name}` off",
        )

    async def live_revision(self, target: TargetRef) -> str | None:
        return self._revision((await self._read(target))[1])

    async def execute(
        self, request: RollbackRequest, progress: Progress, fence: Fence
    ) -> ExecutionResult:
        target = request.target
        env = target.namespace or "production"
        await fence()
        try:
            await self._api.call("POST", f"{self._path(target)}/environments/{env}/off")
            _, enabled = await self._read(target)
        except (TargetUnavailableError, UnknownTargetError) as exc:
            raise ExecutionError(str(exc)) from None
        if enabled:
            raise ExecutionError(f"Unleash accepted the switch but `{target.label}` is still on")
        await progress(f"Unleash: `{target.name}` turned off in {env}")
        return ExecutionResult(from_revision="enabled", to_revision="disabled", detail="turned off")

    async def resume(self, request: RollbackRequest, progress: Progress) -> ExecutionResult:
        try:
            _, enabled = await self._read(request.target)
        except (TargetUnavailableError, UnknownTargetError) as exc:
            raise ExecutionError(str(exc)) from None
        if enabled:
            raise NothingChangedError(f"`{request.target.label}` is still on")
        await progress(f"Unleash: `{request.target.name}` is off")
        return ExecutionResult(from_revision="enabled", to_revision="disabled", detail="resumed")

    async def capture(self, target: TargetRef) -> dict[str, Any]:
        feature, enabled = await self._read(target)
        return {"flag": target.label, "unleash_feature": feature, "state": self._revision(enabled)}
