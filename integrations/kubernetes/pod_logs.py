"""What the pods of a revision printed, read the way `kubectl logs --all-containers --tail=N
--timestamps` and `kubectl logs --previous` read it (GET …/pods/{name}/log), one file per pod.

A log that cannot be read (a kubelet the API server cannot reach, a container still starting)
never holds up the rollback: the file says so and the gap is named for the manifest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from bot.ports import CaptureMoment, EvidenceWindow

FOLDERS = {
    CaptureMoment.BEFORE: "logs-before-rollback",
    CaptureMoment.AFTER: "logs-after-rollback",
}

# read_namespaced_pod_log of the official client, keyword arguments as it takes them
ReadLog = Callable[..., Any]


@dataclass(frozen=True)
class PodLogs:
    files: dict[str, str]
    gaps: tuple[str, ...]


def _reason(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        try:
            message = json.loads(exc.body or "{}").get("message")
        except ValueError:
            message = None
        return f"{exc.status} {message or exc.reason}"
    return type(exc).__name__


def _section(title: str, text: str, window: EvidenceWindow) -> list[str]:
    lines = text.splitlines()
    cut = []
    if len(lines) >= window.log_lines:
        cut.append(f"# the last {window.log_lines} lines; earlier lines were not captured")
    if len(text.encode()) >= window.log_bytes:
        cut.append(f"# cut at {window.log_bytes} bytes; the rest was not captured")
    return [f"==> {title} <==", *cut, *lines]


def _runs(pod: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """(container, previous) to read: every container, and the previous run of each that
    restarted (a crash-looping bad version's last words are there)."""
    statuses = {s["name"]: s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    spec = pod.get("spec") or {}
    names = [
        c["name"] for c in (*(spec.get("initContainers") or []), *(spec.get("containers") or []))
    ]
    runs: list[tuple[str, bool]] = []
    for name in names:
        runs.append((name, False))
        if (statuses.get(name) or {}).get("restartCount"):
            runs.append((name, True))
    return runs


def read_pod_logs(
    read: ReadLog, pods: list[dict[str, Any]], window: EvidenceWindow, timeout: float
) -> PodLogs:
    files: dict[str, str] = {}
    gaps: list[str] = []
    for pod in pods:
        name, namespace = pod["metadata"]["name"], pod["metadata"].get("namespace", "default")
        body = [
            f"# kubectl logs {name} -n {namespace} --all-containers --tail={window.log_lines} "
            f"--timestamps, {window.moment.value} the rollback"
        ]
        for container, previous in _runs(pod):
            title = f"container {container}" + (", previous run" if previous else "")
            try:
                response = read(
                    name,
                    namespace,
                    container=container,
                    previous=previous,
                    tail_lines=window.log_lines,
                    limit_bytes=window.log_bytes,
                    timestamps=True,
                    _preload_content=False,
                    _request_timeout=timeout,
                )
                text = response.data.decode(errors="replace")
            except Exception as exc:  # a log is evidence, not a step: never stop the rollback
                why = _reason(exc)
                gaps.append(f"logs of pod {name} {title} could not be read: {why}")
                body += [f"==> {title} <==", f"# not captured: {why}"]
                continue
            body += _section(title, text, window)
        files[f"{FOLDERS[window.moment]}/{name}.txt"] = "\n".join(body) + "\n"
    return PodLogs(files=files, gaps=tuple(gaps))
