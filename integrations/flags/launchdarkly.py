"""Feature-flag rollbacks on LaunchDarkly (REST API v2, semantic patches).

The kill switch of the SOC 2 rollback and recovery procedures: `turnFlagOff` in one environment. With a version, rollbot restores
the environment's targeting state (on/off, fallthrough and off variations) as it recorded it
at that flag version; LaunchDarkly's `_version` is the revision. Every state rollbot reads is
recorded, so versions it saw stay restorable. Each write carries a comment naming the request,
which LaunchDarkly keeps in its own audit log; the evidence pack copies those entries.

An environment that requires approval takes changes only as approval requests: there rollbot,
after its own approvals, opens one with the same semantic patch and follows it (reviews.py).
Every call pins LD-API-Version, so the answers' shapes do not depend on the token's version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from bot.domain.request import RollbackRequest, TargetRef
from bot.ports import (
    ConfigVersions,
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

SEMANTIC_PATCH = "application/json; domain-model=launchdarkly.semanticpatch"
# The REST API version this code is written against (LaunchDarkly's API versioning).
LD_API_VERSION = "20240415"
_PINNED = {"LD-API-Version": LD_API_VERSION}


def _variation_id(flag: dict[str, Any], index: Any) -> str:
    variations = flag.get("variations") or []
    if isinstance(index, int) and 0 <= index < len(variations):
        return str(variations[index]["_id"])
    return "rollout"  # a percentage rollout: restored as it stands, never rewritten


def flag_state(flag: dict[str, Any], env: str) -> dict[str, str]:
    """The targeting state rollbot records and restores, keyed by flag version."""
    config = flag["environments"][env]
    return {
        "_version": str(flag["_version"]),
        "on": "true" if config["on"] else "false",
        "fallthrough": _variation_id(flag, (config.get("fallthrough") or {}).get("variation")),
        "offVariation": _variation_id(flag, config.get("offVariation")),
    }


def _diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [
        f"{k} {before[k]} → {after[k]}"
        for k in ("on", "fallthrough", "offVariation")
        if before[k] != after[k]
    ]


def served(target: TargetRef, state: dict[str, str]) -> str:
    """A flag's state as people name it: what it serves, not LaunchDarkly's version counter."""
    return (
        f"`{target.name}` {'on' if state['on'] == 'true' else 'off'}, fallthrough "
        f"{state['fallthrough']}, off variation {state['offVariation']}"
    )


def _approval_state(answer: dict[str, Any]) -> ReviewState:
    """An approval request's `status` (pending, completed, failed, scheduled) and `reviewStatus`
    (pending, approved, declined), as one state."""
    reviews = answer.get("allReviews") or []
    detail = "; ".join(
        f"{r.get('kind', '?')} by {r.get('memberId', 'someone')}"
        + (f": {r['comment']}" if r.get("comment") else "")
        for r in reviews
        if r.get("kind") in ("approve", "decline")
    )
    status, review = answer.get("status"), answer.get("reviewStatus")
    if status == "completed":
        return ReviewState(Review.APPLIED, detail)
    if status == "failed":
        return ReviewState(Review.FAILED, detail or "LaunchDarkly could not apply it")
    if review == "declined":
        return ReviewState(Review.DECLINED, detail)
    if review == "approved":
        return ReviewState(Review.APPROVED, detail)
    return ReviewState(Review.PENDING, detail or "no review yet")


class LaunchDarklyExecutor:
    def __init__(
        self,
        api: JsonApi,
        project: str,
        versions: ConfigVersions,
        *,
        waits: WaitRules | None = None,
    ) -> None:
        self._api = api
        self._project = project
        self._versions = versions
        self._waits = waits or WaitRules()

    def _path(self, target: TargetRef) -> str:
        return f"/api/v2/flags/{self._project}/{target.name}"

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self._api.call(method, path, headers=_PINNED, **kwargs)

    async def _approval_required(self, target: TargetRef, flag: dict[str, Any]) -> bool:
        """The environment's approvalSettings: required for every flag, or for flags with one
        of its requiredApprovalTags. A token that may not read environments finds out on the
        patch instead (405), which is handled the same way."""
        env = target.namespace or "production"
        try:
            found = await self._call("GET", f"/api/v2/projects/{self._project}/environments/{env}")
        except FlagApiError as exc:
            if exc.status == 403:
                return False
            raise
        settings = (found or {}).get("approvalSettings") or {}
        tags = set(settings.get("requiredApprovalTags") or [])
        return bool(settings.get("required")) or bool(tags & set(flag.get("tags") or []))

    async def _read(self, target: TargetRef) -> tuple[dict[str, Any], dict[str, str]]:
        env = target.namespace or "production"
        flag = await self._call("GET", self._path(target), params={"env": env})
        if env not in (flag.get("environments") or {}):
            raise UnknownTargetError(f"LaunchDarkly flag `{target.name}` has no environment {env}")
        state = flag_state(flag, env)
        await self._versions.record(target, state)
        return flag, state

    async def _restore_point(self, target: TargetRef, version: str) -> dict[str, str]:
        seen = [v.data for v in await self._versions.history(target)]
        found = next((d for d in seen if d.get("_version") == version), None)
        if found is None:
            known = ", ".join(sorted({d["_version"] for d in seen}, key=int)) or "none"
            raise UnknownTargetError(
                f"rollbot never saw version {version} of `{target.label}`; it can restore the "
                f"versions it recorded: {known}"
            )
        return found

    async def _wanted(
        self, target: TargetRef, state: dict[str, str], to: str | None
    ) -> dict[str, str]:
        if to is None:
            if state["on"] == "false":
                raise UnknownTargetError(f"`{target.label}` is already off; nothing to roll back")
            return {**state, "on": "false"}
        wanted = await self._restore_point(target, to)
        if not _diff(state, wanted):
            raise UnknownTargetError(f"`{target.label}` already holds its state of version {to}")
        if "rollout" in (wanted["fallthrough"], wanted["offVariation"]):
            raise UnknownTargetError(
                f"version {to} served a percentage rollout; rollbot restores fixed variations only"
            )
        return wanted

    async def preflight(
        self, target: TargetRef, to_revision: str | None, to_migration: str | None = None
    ) -> Preflight:
        flag, state = await self._read(target)
        wanted = await self._wanted(target, state, to_revision)
        changes = _diff(state, wanted)
        how = (
            "turn it off (kill switch)"
            if to_revision is None
            else f"restore flag version {to_revision}"
        )
        gate = ""
        if await self._approval_required(target, flag):
            gate = (
                f". LaunchDarkly requires approval in {target.namespace or 'production'}: after "
                "the approvals here, rollbot opens a LaunchDarkly approval request with this "
                "change and waits until it is applied (its link goes on the timeline)"
            )
        return Preflight(
            live_revision=state["_version"],
            to_revision=to_revision,
            summary=f"flag version {state['_version']}: {how}; {', '.join(changes)}{gate}",
            changes=tuple(f"flag {c}" for c in changes),
            live_identity=served(target, state),
            to_identity=served(target, wanted),
        )

    async def live_revision(self, target: TargetRef) -> str | None:
        return (await self._read(target))[1]["_version"]

    def _instructions(self, state: dict[str, str], wanted: dict[str, str]) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        if wanted["fallthrough"] != state["fallthrough"]:
            out.append(
                {
                    "kind": "updateFallthroughVariationOrRollout",
                    "variationId": wanted["fallthrough"],
                }
            )
        if wanted["offVariation"] != state["offVariation"]:
            out.append({"kind": "updateOffVariation", "variationId": wanted["offVariation"]})
        if wanted["on"] != state["on"]:
            out.append({"kind": "turnFlagOn" if wanted["on"] == "true" else "turnFlagOff"})
        return out

    async def execute(
        self, request: RollbackRequest, progress: Progress, fence: Fence
    ) -> ExecutionResult:
        target = request.target
        env = target.namespace or "production"
        try:
            flag, state = await self._read(target)
            wanted = await self._wanted(target, state, request.to_revision)
            instructions = self._instructions(state, wanted)
            comment = f"rollbot {request.id}: {request.reason}"[:500]
            gated = await self._approval_required(target, flag)
            await fence()
            if not gated:
                try:
                    flag = await self._call(
                        "PATCH",
                        self._path(target),
                        body={
                            "environmentKey": env,
                            "instructions": instructions,
                            "comment": comment,
                        },
                        content_type=SEMANTIC_PATCH,
                    )
                except FlagApiError as exc:
                    if exc.status != 405:  # method_not_allowed: "updates require approval"
                        raise
                    gated = True
            if gated:
                flag = await self._through_approval(request, instructions, comment, progress)
        except (TargetUnavailableError, UnknownTargetError) as exc:
            raise ExecutionError(str(exc)) from None
        after = flag_state(flag, env)
        await self._versions.record(target, after)
        if _diff(after, wanted):
            raise ExecutionError(
                f"LaunchDarkly accepted the patch but `{target.label}` reads {after}"
            )
        changed = ", ".join(_diff(state, after))
        await progress(
            f"LaunchDarkly: `{target.name}` in {env}: {changed} (flag version {state['_version']} → {after['_version']})"
        )
        return ExecutionResult(
            from_revision=state["_version"], to_revision=after["_version"], detail=changed
        )

    async def _through_approval(
        self,
        request: RollbackRequest,
        instructions: list[dict[str, str]],
        comment: str,
        progress: Progress,
    ) -> dict[str, Any]:
        """Open a LaunchDarkly approval request with the same semantic patch, follow it until it
        is applied, and return the flag as it then reads."""
        target = request.target
        env = target.namespace or "production"
        base = f"/api/v2/projects/{self._project}/flags/{target.name}/environments/{env}"
        opened = await self._call(
            "POST",
            f"{base}/approval-requests",
            body={
                "description": f"rollbot {request.id}: roll back `{target.name}` in {env}",
                "instructions": instructions,
                "comment": comment,
            },
        )
        at = f"{base}/approval-requests/{opened['_id']}"
        site = ((opened.get("_links") or {}).get("site") or {}).get("href") or (
            f"/projects/{self._project}/flags/{target.name}/approvals/{opened['_id']}?env={env}"
        )
        link = site if site.startswith("http") else self._api.base_url + site

        async def read() -> ReviewState:
            return _approval_state(await self._call("GET", at))

        def apply() -> Awaitable[bool]:
            return applied_unless_forbidden(
                self._call("POST", f"{at}/apply", body={"comment": comment})
            )

        await progress(
            PlatformReview(
                "LaunchDarkly approval request",
                link,
                f"LaunchDarkly requires approval in {env}; rollbot opened it with this change "
                f"and waits up to {span(self._waits.wait_seconds)} for it to be applied",
            )
        )
        await follow(
            Proposal("LaunchDarkly", "approval request", link, read, apply), progress, self._waits
        )
        flag: dict[str, Any] = await self._call("GET", self._path(target), params={"env": env})
        return flag

    async def resume(
        self, request: RollbackRequest, progress: Progress, fence: Fence | None = None
    ) -> ExecutionResult:
        target = request.target
        try:
            _, state = await self._read(target)
            if request.to_revision is None:
                done = state["on"] == "false"
            else:
                done = not _diff(state, await self._restore_point(target, request.to_revision))
        except (TargetUnavailableError, UnknownTargetError) as exc:
            raise ExecutionError(str(exc)) from None
        if not done:
            raise NothingChangedError(f"`{target.label}` does not read as the rollback leaves it")
        await progress(
            f"LaunchDarkly: `{target.name}` reads as the rollback left it (flag version {state['_version']})"
        )
        return ExecutionResult(
            from_revision=request.baseline_revision, to_revision=state["_version"], detail="resumed"
        )

    async def capture(self, target: TargetRef) -> dict[str, Any]:
        env = target.namespace or "production"
        flag, state = await self._read(target)
        spec = f"proj/{self._project}:env/{env}:flag/{target.name}"
        audit = await self._call("GET", "/api/v2/auditlog", params={"spec": spec, "limit": "5"})
        return {
            "flag": target.label,
            "launchdarkly_version": state["_version"],
            "environment": flag["environments"][env],
            "state": state,
            "launchdarkly_audit_log": audit.get("items", []),
        }

    async def readable(
        self, target: TargetRef, captured: Mapping[str, Any], window: EvidenceWindow
    ) -> ReadableEvidence:
        return readable_flag(captured, window)
