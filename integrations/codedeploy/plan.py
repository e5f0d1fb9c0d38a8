"""Which way back a CodeDeploy group takes, as plain functions over the API's JSON
(CodeDeploy API reference: DeploymentInfo, DeploymentGroupInfo, StopDeployment).

- A deployment still running (any platform) is stopped with automatic rollback: CodeDeploy
  redeploys the last successful revision, or for ECS and Lambda blue/green shifts traffic back to
  the original task set or version. A blue/green deployment waiting in `Ready` is stopped the
  same way: its replacement never took production traffic.
- A finished bad deployment on EC2/on-premises (`Server`) is rolled back by redeploying the
  revision of an earlier successful deployment. For ECS and Lambda that redeploy needs the
  older AppSpec and task definition or version, which rollbot does not build yet: refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.ports import UnknownTargetError

ACTIVE = frozenset({"Created", "Queued", "InProgress", "Ready", "Baking"})
# DeploymentInfo.creator of the deployments CodeDeploy makes itself when it rolls back
ROLLBACK_CREATORS = frozenset({"codeDeployRollback", "CloudFormationRollback"})
BLUE_GREEN_PLATFORMS = frozenset({"ECS", "Lambda"})
_ORIGINAL = {"ECS": "the original task set", "Lambda": "the original Lambda version"}


def revision_label(revision: dict[str, Any]) -> str:
    s3 = revision.get("s3Location")
    if s3:
        return f"s3://{s3.get('bucket')}/{s3.get('key')}"
    github = revision.get("gitHubLocation")
    if github:
        return f"{github.get('repository')}@{str(github.get('commitId', ''))[:12]}"
    return str(revision.get("revisionType", "revision"))


@dataclass(frozen=True)
class Plan:
    app: str
    group: str
    platform: str
    latest: dict[str, Any]
    # "stop": stop `latest` and let CodeDeploy roll back; "redeploy": deploy `good`'s revision.
    mode: str
    good: dict[str, Any]
    # why `good` is the deployment being restored, in the words the card shows
    reason: str

    def describe(self) -> str:
        bad, good = self.latest, self.good
        if self.mode == "stop":
            back = (
                f"traffic shifts back to {_ORIGINAL[self.platform]} "
                f"({revision_label(good['revision'])})"
                if self.platform in BLUE_GREEN_PLATFORMS
                else f"CodeDeploy redeploys {revision_label(good['revision'])}"
            )
            return (
                f"stop {bad['deploymentId']} ({bad['status']}, {revision_label(bad['revision'])}) "
                f"with automatic rollback: {back}; restores {good['deploymentId']}, {self.reason}"
            )
        return (
            f"redeploy {revision_label(good['revision'])} (from {good['deploymentId']}, "
            f"{self.reason}) over {bad['deploymentId']} ({revision_label(bad['revision'])})"
        )


def _restorable(d: dict[str, Any], latest: dict[str, Any]) -> bool:
    """A successful deployment a person made, of another revision than the bad one."""
    return (
        d["deploymentId"] != latest["deploymentId"]
        and d.get("status") == "Succeeded"
        and d.get("creator") not in ROLLBACK_CREATORS
        and d.get("revision") != latest.get("revision")
    )


def _chosen(
    history: list[dict[str, Any]],
    last_successful: dict[str, Any] | None,
    to_revision: str | None,
    label: str,
) -> tuple[dict[str, Any], str]:
    latest = history[-1]
    if to_revision is not None:
        known = [*history, *([last_successful] if last_successful else [])]
        chosen = next((d for d in known if d["deploymentId"] == to_revision), None)
        if chosen is None or chosen["status"] != "Succeeded":
            raise UnknownTargetError(f"{to_revision} is not a successful deployment of `{label}`")
        return chosen, "the deployment asked for"
    if last_successful is not None and _restorable(last_successful, latest):
        return last_successful, "the group's last successful deployment"
    earlier = [d for d in history[:-1] if _restorable(d, latest)]
    if not earlier:
        raise UnknownTargetError(
            f"`{label}` has no earlier successful deployment of another revision "
            "(CodeDeploy's own rollback deployments are not counted)"
        )
    return earlier[-1], (
        "the newest earlier successful deployment of another revision, "
        "not counting CodeDeploy's own rollbacks"
    )


def choose_plan(
    group_info: dict[str, Any],
    history: list[dict[str, Any]],
    last_successful: dict[str, Any] | None,
    to_revision: str | None,
    label: str,
) -> Plan:
    """`history` is the group's deployments oldest first; `last_successful` is the deployment
    GetDeploymentGroup names as lastSuccessfulDeployment (it may be older than the history read)."""
    if not history:
        raise UnknownTargetError(f"`{label}` has no deployments to roll back")
    app, group = group_info["applicationName"], group_info["deploymentGroupName"]
    platform = str(group_info.get("computePlatform") or "Server")
    latest = history[-1]
    good, reason = _chosen(history, last_successful, to_revision, label)
    if latest["status"] in ACTIVE:
        live = last_successful or next(
            (d for d in reversed(history[:-1]) if d["status"] == "Succeeded"), None
        )
        if live is None or live.get("revision") != good.get("revision"):
            raise UnknownTargetError(
                f"{latest['deploymentId']} is still running: CodeDeploy can stop it and roll "
                "back only to the last successful deployment; ask without --to-revision"
            )
        return Plan(app, group, platform, latest, "stop", good, reason)
    if platform in BLUE_GREEN_PLATFORMS:
        raise UnknownTargetError(
            f"`{label}` runs on {platform}: rollbot stops a running blue/green deployment with "
            f"automatic rollback, but redeploying an earlier {platform} revision "
            f"({revision_label(good['revision'])}) is not supported yet; redeploy it from the "
            "CodeDeploy console or the pipeline"
        )
    return Plan(app, group, platform, latest, "redeploy", good, reason)
