"""Feature-flag rollbacks on Unleash (admin API): turn a feature off in one environment.

Unleash keeps no version of a feature's environment state that rollbot could restore, so the
revision rollbot records is the state itself (enabled/disabled) and the only way back is off.

Where the environment has change requests on (Unleash Enterprise), the toggle goes in as a
change request with a comment naming the rollback request, submitted for review and followed
until applied (reviews.py). Open source Unleash has no change-request API; a toggle it refuses
for want of one fails with the reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from bot.domain.request import RollbackRequest, TargetRef
from bot.ports import (
    EvidenceWindow,
    ExecutionError,
    ExecutionResult,
    Fence,
    NothingChangedError,
    PlatformReview,
    Preflight,
    Progress,
    ReadableEvidence,
    TargetUnavailableError,
    UnknownTargetError,
)
from integrations.flags.evidence import readable_flag
from integrations.flags.http import FlagApiError, JsonApi
from integrations.flags.reviews import (
    Proposal,
    Review,
    ReviewState,
    WaitRules,
    applied_unless_forbidden,
    follow,
    span,
)

# Change request states (Unleash Enterprise) as rollbot follows them.
_CHANGE_STATES = {
    "Draft": Review.PENDING,
    "In review": Review.PENDING,
    "Scheduled": Review.PENDING,
    "Approved": Review.APPROVED,
    "Applied": Review.APPLIED,
    "Rejected": Review.DECLINED,
    "Cancelled": Review.DECLINED,
}


class UnleashExecutor:
    def __init__(self, api: JsonApi, project: str, *, waits: WaitRules | None = None) -> None:
        self._api = api
        self._project = project
        self._waits = waits or WaitRules()

    async def _change_requests_on(self, env: str) -> bool:
        """The project's change-request settings; open source Unleash has none (404)."""
        try:
            config = await self._api.call(
                "GET", f"/api/admin/projects/{self._project}/change-requests/config"
            )
        except UnknownTargetError:
            return False
        except FlagApiError as exc:
            if exc.status == 403:  # the token may not read them: the toggle will tell
                return False
            raise
        return any(
            c.get("environment") == env and c.get("changeRequestEnabled") for c in config or []
        )

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

    async def preflight(
        self, target: TargetRef, to_revision: str | None, to_migration: str | None = None
    ) -> Preflight:
        if to_revision is not None:
            raise UnknownTargetError(
                "Unleash keeps no versions rollbot can restore; leave out --to-revision to turn "
                "the feature off"
            )
        _, enabled = await self._read(target)
        if not enabled:
            raise UnknownTargetError(f"`{target.label}` is already off; nothing to roll back")
        gate = ""
        if await self._change_requests_on(target.namespace or "production"):
            gate = (
                f". Unleash requires a change request in {target.namespace}: after the approvals "
                "here, rollbot opens one and waits until it is applied (its link goes on the "
                "timeline)"
            )
        return Preflight(
            live_revision="enabled",
            to_revision="disabled",
            summary=(
                f"turn Unleash feature `{target.name}` off in {target.namespace} (kill switch)"
                f"{gate}"
            ),
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
        try:
            gated = await self._change_requests_on(env)
            await fence()
            if gated:
                await self._through_change_request(request, progress)
            else:
                await self._switch_off(target, env)
            _, enabled = await self._read(target)
        except (TargetUnavailableError, UnknownTargetError) as exc:
            raise ExecutionError(str(exc)) from None
        if enabled:
            raise ExecutionError(f"Unleash accepted the switch but `{target.label}` is still on")
        await progress(f"Unleash: `{target.name}` turned off in {env}")
        return ExecutionResult(from_revision="enabled", to_revision="disabled", detail="turned off")

    async def _switch_off(self, target: TargetRef, env: str) -> None:
        try:
            await self._api.call("POST", f"{self._path(target)}/environments/{env}/off")
        except FlagApiError as exc:
            if exc.status == 403 and "SKIP_CHANGE_REQUEST" in str(exc):
                raise ExecutionError(
                    f"Unleash takes changes to {env} only as change requests, and it offers "
                    "rollbot no change-request API (open source Unleash, or a token without "
                    f"access to it): turn `{target.name}` off in {env} in Unleash by hand"
                ) from None
            raise

    async def _through_change_request(self, request: RollbackRequest, progress: Progress) -> None:
        target, env = request.target, request.target.namespace or "production"
        base = f"/api/admin/projects/{self._project}"
        opened = await self._api.call(
            "POST",
            f"{base}/environments/{env}/change-requests",
            body={"feature": target.name, "action": "updateEnabled", "payload": {"enabled": False}},
        )
        at = f"{base}/change-requests/{opened['id']}"
        comment = f"rollbot {request.id}: {request.reason}"[:500]
        await self._api.call("POST", f"{at}/comments", body={"text": comment})
        await self._api.call("PUT", f"{at}/state", body={"state": "In review"})
        link = f"{self._api.base_url}/projects/{self._project}/change-requests/{opened['id']}"

        async def read() -> ReviewState:
            change = await self._api.call("GET", at)
            state = str(change.get("state"))
            people = [
                f"{verb} by {(r.get('createdBy') or {}).get('username', 'someone')}"
                for verb, key in (("approved", "approvals"), ("rejected", "rejections"))
                for r in change.get(key) or []
            ]
            return ReviewState(
                _CHANGE_STATES.get(state, Review.PENDING), "; ".join(people) or state
            )

        def apply() -> Awaitable[bool]:
            return applied_unless_forbidden(
                self._api.call("PUT", f"{at}/state", body={"state": "Applied"})
            )

        await progress(
            PlatformReview(
                "Unleash change request",
                link,
                f"Unleash requires a change request in {env}; rollbot opened it, submitted it "
                f"for review and waits up to {span(self._waits.wait_seconds)} for it to be applied",
            )
        )
        await follow(
            Proposal("Unleash", "change request", link, read, apply), progress, self._waits
        )

    async def resume(
        self, request: RollbackRequest, progress: Progress, fence: Fence | None = None
    ) -> ExecutionResult:
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

    async def readable(
        self, target: TargetRef, captured: Mapping[str, Any], window: EvidenceWindow
    ) -> ReadableEvidence:
        return readable_flag(captured, window)
