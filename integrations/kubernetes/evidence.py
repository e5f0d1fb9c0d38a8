"""A Deployment's evidence: the JSON capture (the Deployment, its ReplicaSets, pods and events)
and the runbook's readable forms of it, with the live revision's pod logs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from bot.domain.request import TargetRef
from bot.ports import CaptureMoment, EvidenceWindow, ReadableEvidence
from integrations.kubernetes.describe import (
    describe_deployment,
    events_in_window,
    events_table,
    live_pods,
    of_the_rollout,
    pods_yaml,
)
from integrations.kubernetes.pod_logs import read_pod_logs
from integrations.kubernetes.rollout import images_of, json_body, revision_of


def capture_deployment(
    api: Any,
    target: TargetRef,
    deployment: dict[str, Any],
    replicasets: list[dict[str, Any]],
    timeout: float,
) -> dict[str, Any]:
    namespace = target.namespace or "default"
    core = client.CoreV1Api(api)
    labels = ",".join(
        f"{k}={v}" for k, v in deployment["spec"]["selector"].get("matchLabels", {}).items()
    )
    pods = json_body(
        core.list_namespaced_pod(
            namespace, label_selector=labels, _preload_content=False, _request_timeout=timeout
        )
    )["items"]
    # one list for the namespace: a field selector names one object, and the events of the
    # ReplicaSets and of pods already gone belong to the rollback as much as the Deployment's
    events = json_body(
        core.list_namespaced_event(namespace, _preload_content=False, _request_timeout=timeout)
    )["items"]
    return {
        "deployment": deployment,
        "revision": str(revision_of(deployment)),
        "images": images_of(deployment["spec"]["template"]),
        "replicasets": replicasets,
        "pods": pods,
        "events": of_the_rollout(events, deployment, replicasets),
    }


def readable_deployment(
    api: Any, captured: Mapping[str, Any], window: EvidenceWindow, timeout: float
) -> ReadableEvidence:
    if "deployment" not in captured:  # the capture itself failed: nothing to render
        return ReadableEvidence(
            gaps=(f"no readable {window.moment.value}-capture: the capture failed",)
        )
    moment = window.moment.value
    files = {
        f"deployment-{moment}.txt": describe_deployment(captured),
        f"pods-{moment}.yaml": pods_yaml(captured),
    }
    if window.moment is CaptureMoment.AFTER:  # the after-capture's events cover the whole window
        events = events_in_window(captured, window.events_since)
        files["events.json"] = json.dumps(events, indent=2, sort_keys=True) + "\n"
        files["events.txt"] = events_table(events)
    logs = read_pod_logs(
        client.CoreV1Api(api).read_namespaced_pod_log, live_pods(captured), window, timeout
    )
    return ReadableEvidence(files={**files, **logs.files}, gaps=logs.gaps)
