"""Pods of the sandbox cluster and what their containers print.

A real pod's log comes from its kubelet (GET /api/v1/namespaces/{ns}/pods/{name}/log, proxied by
the API server); the sandbox has no kubelet, so each container prints what its image is set to
print (`ContainerOutput`), and a container that crashed keeps the output of its previous run for
`previous=true`. The query parameters, the plain-text answer and the 400s for a wrong container
or a missing previous run are the API server's own (k8s.io/kubernetes pkg/registry/core/pod/
strategy.go LogLocation, and the kubelet's "previous terminated container" message).
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.kube.store import ApiError, ObjectStore, now_iso


@dataclass
class ContainerOutput:
    """What containers of each image print, in order; set by tests and the demo."""

    printed: dict[str, list[str]] = field(default_factory=dict)
    # the last lines of a run that crashed, kept by the kubelet as the previous container's log
    last_words: dict[str, list[str]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    # what a Job's pod really printed (its process's output), by pod name
    runs: dict[str, list[str]] = field(default_factory=dict)
    # a kubelet the API server cannot reach: every log read fails as it would then
    kubelet_unreachable: bool = False

    def prints(self, image: str, *lines: str) -> None:
        self.printed.setdefault(image, []).extend(lines)

    def lines_of(self, image: str, started: datetime, *, previous: bool) -> list[tuple[str, str]]:
        """(RFC 3339 time, line) pairs, one second apart from the container's start."""
        if previous:
            body = [f"starting {image}", *self.last_words.get(image, ["exited with code 1"])]
        else:
            body = [f"starting {image}", "listening on :8080", *self.printed.get(image, [])]
        stamp = (started + timedelta(seconds=i) for i in range(len(body)))
        return [
            (t.strftime("%Y-%m-%dT%H:%M:%S.%f000Z"), line)
            for t, line in zip(stamp, body, strict=False)
        ]


def new_pod(rs: dict[str, Any], ready: bool, output: ContainerOutput) -> dict[str, Any]:
    """The pod a ReplicaSet controller creates from its template."""
    meta, template = rs["metadata"], rs["spec"]["template"]
    containers = template["spec"].get("containers", [])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{meta['name']}-{secrets.token_hex(3)[:5]}",
            "namespace": meta["namespace"],
            "labels": template["metadata"]["labels"],
            "creationTimestamp": now_iso(),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "controller": True,
                    "name": meta["name"],
                    "uid": meta["uid"],
                }
            ],
        },
        "spec": copy.deepcopy(template["spec"]),
        "status": {
            "phase": "Running" if ready else "Pending",
            "startTime": now_iso(),
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c.get("image"),
                    "ready": ready,
                    "restartCount": output.restarts.get(c.get("image", ""), 0),
                    "state": {"running": {"startedAt": now_iso()}}
                    if ready
                    else {"waiting": {"reason": "ContainerCreating"}},
                }
                for c in containers
            ],
        },
    }


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _container(pod: dict[str, Any], wanted: str | None) -> dict[str, Any]:
    name = pod["metadata"]["name"]
    statuses = pod["status"].get("containerStatuses") or []
    if wanted is None:
        if len(statuses) != 1:
            names = " ".join(s["name"] for s in statuses)
            raise _bad_request(
                f"a container name must be specified for pod {name}, choose one of: [{names}]"
            )
        found: dict[str, Any] = statuses[0]
        return found
    for status in statuses:
        if status["name"] == wanted:
            return dict(status)
    raise _bad_request(f"container {wanted} is not valid for pod {name}")


def _started(pod: dict[str, Any]) -> datetime:
    raw = pod["status"].get("startTime") or pod["metadata"].get("creationTimestamp") or now_iso()
    return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def pod_log(
    store: ObjectStore, output: ContainerOutput, namespace: str, name: str, q: Mapping[str, str]
) -> str:
    """The body of GET …/pods/{name}/log, with container, previous, tailLines, limitBytes and
    timestamps as the API server reads them."""
    pod = store.get("pods", namespace, name)
    if pod is None:
        raise ApiError(404, "NotFound", f'pods "{name}" not found')
    status = _container(pod, q.get("container"))
    if output.kubelet_unreachable:
        raise ApiError(
            500,
            "InternalError",
            f'Get "https://10.0.0.7:10250/containerLogs/{namespace}/{name}/{status["name"]}": '
            "dial tcp 10.0.0.7:10250: connect: connection refused",
        )
    previous = q.get("previous") in ("true", "1")
    if previous and not status.get("restartCount"):
        raise _bad_request(
            f'previous terminated container "{status["name"]}" in pod "{name}" not found'
        )
    if not previous and "waiting" in (status.get("state") or {}):
        reason = status["state"]["waiting"].get("reason", "ContainerCreating")
        raise _bad_request(
            f'container "{status["name"]}" in pod "{name}" is waiting to start: {reason}'
        )
    if name in output.runs:
        start = _started(pod)
        lines = [
            ((start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%f000Z"), line)
            for i, line in enumerate(output.runs[name])
        ]
    else:
        lines = output.lines_of(status.get("image") or "", _started(pod), previous=previous)
    if "tailLines" in q:
        tail = int(q["tailLines"])
        lines = lines[-tail:] if tail > 0 else []
    stamped = q.get("timestamps") in ("true", "1")
    text = "".join(f"{t} {line}\n" if stamped else f"{line}\n" for t, line in lines)
    if "limitBytes" in q:
        text = text.encode()[: int(q["limitBytes"])].decode(errors="ignore")
    return text


def crash(store: ObjectStore, output: ContainerOutput, image: str, last_words: list[str]) -> None:
    """Every container of `image` crashed once and was restarted: its last lines stay readable
    as the previous container's log, as the kubelet keeps them."""
    output.restarts[image] = output.restarts.get(image, 0) + 1
    output.last_words[image] = last_words
    for pod in store.list("pods", None):
        statuses = pod["status"].get("containerStatuses") or []
        hit = [s for s in statuses if s.get("image") == image]
        for status in hit:
            status["restartCount"] = output.restarts[image]
            status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
        if hit:
            store.replace("pods", pod)
