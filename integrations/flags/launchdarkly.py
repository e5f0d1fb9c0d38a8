"""Feature-flag rollbacks on LaunchDarkly (REST API v2, semantic patches).

The kill switch of the SOC 2 rollback and recovery procedures: `turnFlagOff` in one environment. With a version, rollbot restores
the environment's targeting state (on/off, fallthrough and off variations) as it recorded it
at that flag version; LaunchDarkly's `_version` is the revision. Every state rollbot reads is
recorded, so versions it saw stay restorable. Each write carries a comment naming the request,
which LaunchDarkly keeps in its own audit log; the evidence pack copies those entries.
"""

from __future__ import annotations

from typing import Any

from bot.domain.request import RollbackRequest, TargetRef
from bot.ports import (
    ConfigVersions,
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

SEMANTIC_PATCH = "application/json; domain-model=launchdarkly.semanticpatch"


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


class LaunchDarklyExecutor:
    def __init__(self, api: JsonApi, project: str, versions: ConfigVersions) -> None:
        self._api = api
        self._project = project
        self._versions = versions

    def _path(self, target: TargetRef) -> str:
        return f"/api/v2/flags/{self._project}/{target.name}"

    async def _read(self, target: TargetRef) -> tuple[dict[str, Any], dict[str, str]]:
        env = target.namespace or "production"
        flag = await self._api.call("GET", self._path(target), params={"env": env})
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

    async def preflight(self, target: TargetRef, to_revision: str | None) -> Preflight:
        _, state = await self._read(target)
        wanted = await self._wanted(target, state, to_revision)
        changes = _diff(state, wanted)
        how = (
            "turn it off (kill switch)"
            if to_revision is None
            else f"restore flag version {to_revision}"
        )
        return Preflight(
            live_revision=state["_version"],
            to_revision=to_revision,
            summary=f"flag version {state['_version']}: {how}; {', '.join(changes)}",
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
            _, state = await self._read(target)
            wanted = await self._wanted(target, state, request.to_revision)
            body = {
                "environmentKey": env,
                "instructions": self._instructions(state, wanted),
                "comment": f"rollbot {request.id}: {request.reason}"[:500],
            }
            await fence()
            flag = await self._api.call(
                "PATCH", self._path(target), body=body, content_type=SEMANTIC_PATCH
            )
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

    async def resume(self, request: RollbackRequest, progress: Progress) -> ExecutionResult:
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
        audit = await self._api.call("GET", "/api/v2/auditlog", params={"spec": spec, "limit": "5"})
        return {
            "flag": target.label,
            "launchdarkly_version": state["_version"],
            "environment": flag["environments"][env],
            "state": state,
            "launchdarkly_audit_log": audit.get("items", []),
        }
