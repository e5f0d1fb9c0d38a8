"""Jobs (batch/v1) of the sandbox cluster, run for real.

The sandbox has no container runtime, so a Job's pod runs its container's command as a local
process: the working directory is the folder standing in for the container's image (`images`,
image → folder), and the environment is the container's own (`value`, or `valueFrom.secretKeyRef`
read from the sandbox's Secrets), plus PATH so that the image's tools resolve. Everything the
API shows is the Job controller's: the pod labelled `job-name`, the pod's phase and exit code,
`status.succeeded|failed`, the `Complete` / `Failed` conditions with the real reasons
(`BackoffLimitExceeded`, `DeadlineExceeded`), and the process's output as the pod's log.
An image with no folder behaves as an image that cannot be pulled: the pod waits
(`ErrImagePull`) until the Job's deadline fails it. Sources: k8s.io/kubernetes
pkg/controller/job/job_controller.go and the Job API reference."""

from __future__ import annotations

import asyncio
import base64
import copy
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from sandbox.kube.pods import ContainerOutput
from sandbox.kube.store import ApiError, ObjectStore, now_iso

# A Job with no activeDeadlineSeconds may run for ever on a real cluster; the sandbox stops a
# stuck process after this long so that a test never hangs.
SANDBOX_DEADLINE_SECONDS = 600
# The Job controller's conditions: (type, reason, message), as it writes them.
COMPLETE = ("Complete", "CompletionsReached", "Reached expected number of succeeded pods")
DEADLINE_EXCEEDED = ("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
BACKOFF_LIMIT_EXCEEDED = (
    "Failed",
    "BackoffLimitExceeded",
    "Job has reached the specified backoff limit",
)


def default_job(obj: dict[str, Any]) -> None:
    """What the API server fills in and refuses on create (the Job API's validation)."""
    meta, spec = obj["metadata"], obj.setdefault("spec", {})
    template = spec.setdefault("template", {})
    pod_spec = template.setdefault("spec", {})
    policy = pod_spec.get("restartPolicy", "Always")
    if policy not in ("Never", "OnFailure"):
        raise ApiError(
            422,
            "Invalid",
            f'Job.batch "{meta["name"]}" is invalid: spec.template.spec.restartPolicy: '
            f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"',
        )
    if not pod_spec.get("containers"):
        raise ApiError(
            422,
            "Invalid",
            f'Job.batch "{meta["name"]}" is invalid: spec.template.spec.containers: Required value',
        )
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completions", 1)
    spec.setdefault("parallelism", 1)
    labels = {"batch.kubernetes.io/job-name": meta["name"], "job-name": meta["name"]}
    template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)


class JobController:
    def __init__(self, store: ObjectStore, output: ContainerOutput) -> None:
        self.store = store
        self.output = output
        self.images: dict[str, Path] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        store.listeners.append(self._changed)

    def _changed(self, resource: str, kind: str, obj: dict[str, Any]) -> None:
        if resource == "jobs" and kind == "ADDED":
            meta = obj["metadata"]
            task = asyncio.get_running_loop().create_task(
                self._run(meta["namespace"], meta["name"])
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _secret_value(self, namespace: str, ref: dict[str, Any]) -> str:
        found = self.store.get("secrets", namespace, ref.get("name", ""))
        data = (found or {}).get("data") or {}
        if ref.get("key") not in data:
            what = (
                f'secret "{ref.get("name")}" not found'
                if found is None
                else (f"couldn't find key {ref.get('key')} in Secret {namespace}/{ref.get('name')}")
            )
            raise LookupError(what)
        return base64.b64decode(data[ref["key"]]).decode()

    def _environment(self, namespace: str, container: dict[str, Any]) -> dict[str, str]:
        env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        for item in container.get("env") or []:
            ref = (item.get("valueFrom") or {}).get("secretKeyRef")
            env[item["name"]] = (
                self._secret_value(namespace, ref) if ref else str(item.get("value", ""))
            )
        return env

    def _pod(self, job: dict[str, Any], state: dict[str, Any], phase: str) -> dict[str, Any]:
        meta, template = job["metadata"], job["spec"]["template"]
        container = template["spec"]["containers"][0]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{meta['name']}-{secrets.token_hex(3)[:5]}",
                "namespace": meta["namespace"],
                "labels": copy.deepcopy(template["metadata"]["labels"]),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "controller": True,
                        "name": meta["name"],
                        "uid": meta["uid"],
                    }
                ],
            },
            "spec": copy.deepcopy(template["spec"]),
            "status": {
                "phase": phase,
                "startTime": now_iso(),
                "containerStatuses": [
                    {
                        "name": container["name"],
                        "image": container.get("image"),
                        "ready": False,
                        "restartCount": 0,
                        "state": state,
                    }
                ],
            },
        }

    def _set_pod(self, pod: dict[str, Any], phase: str, state: dict[str, Any]) -> None:
        current = self.store.get("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        if current is None:
            return
        current["status"]["phase"] = phase
        current["status"]["containerStatuses"][0]["state"] = state
        self.store.replace("pods", current)

    def _finish(self, namespace: str, name: str, kind: str, reason: str, message: str) -> None:
        job = self.store.get("jobs", namespace, name)
        if job is None:
            return
        status = job.setdefault("status", {})
        status.pop("active", None)
        status["succeeded" if kind == "Complete" else "failed"] = 1
        status["completionTime" if kind == "Complete" else "failedTime"] = now_iso()
        stamp = now_iso()
        status["conditions"] = [
            {
                "type": kind,
                "status": "True",
                "reason": reason,
                "message": message,
                "lastProbeTime": stamp,
                "lastTransitionTime": stamp,
            }
        ]
        self.store.replace("jobs", job)

    def _start(self, namespace: str, name: str) -> dict[str, Any] | None:
        job = self.store.get("jobs", namespace, name)
        if job is None:
            return None
        job.setdefault("status", {}).update(active=1, startTime=now_iso())
        self.store.replace("jobs", job)
        return job

    async def _run(self, namespace: str, name: str) -> None:
        job = self._start(namespace, name)
        if job is None:
            return
        deadline = job["spec"].get("activeDeadlineSeconds") or SANDBOX_DEADLINE_SECONDS
        container = job["spec"]["template"]["spec"]["containers"][0]
        folder = self.images.get(container.get("image", ""))
        try:
            env = self._environment(namespace, container)
        except LookupError as exc:
            waiting = {"waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}}
            self.store.create("pods", self._pod(job, waiting, "Pending"))
            await self._expire(namespace, name, deadline)
            return
        if folder is None:
            waiting = {"waiting": {"reason": "ErrImagePull"}}
            self.store.create("pods", self._pod(job, waiting, "Pending"))
            await self._expire(namespace, name, deadline)
            return
        # Each failed pod is replaced until backoffLimit failures (restartPolicy Never).
        for attempt in range(int(job["spec"].get("backoffLimit", 6)) + 1):
            running = {"running": {"startedAt": now_iso()}}
            pod = self.store.create("pods", self._pod(job, running, "Running"))
            code = await self._process(pod, container, folder, env, deadline)
            if code is None:
                self._finish(namespace, name, *DEADLINE_EXCEEDED)
                return
            if code == 0:
                self._finish(namespace, name, *COMPLETE)
                return
            self._count_failure(namespace, name, attempt + 1)
        self._finish(namespace, name, *BACKOFF_LIMIT_EXCEEDED)

    def _count_failure(self, namespace: str, name: str, failed: int) -> None:
        job = self.store.get("jobs", namespace, name)
        if job is not None:
            job.setdefault("status", {})["failed"] = failed
            self.store.replace("jobs", job)

    async def _expire(self, namespace: str, name: str, deadline: float) -> None:
        await asyncio.sleep(deadline)
        self._finish(namespace, name, *DEADLINE_EXCEEDED)

    async def _process(
        self,
        pod: dict[str, Any],
        container: dict[str, Any],
        folder: Path,
        env: dict[str, str],
        deadline: float,
    ) -> int | None:
        """The container's run: its exit code, or None when the deadline killed it."""
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=folder,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        code: int | None
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), deadline)
            code = proc.returncode or 0
        except TimeoutError:
            proc.kill()
            out, _ = await proc.communicate()
            code = None
        self.output.runs[pod["metadata"]["name"]] = out.decode(errors="replace").splitlines()
        exit_code = 137 if code is None else code
        reason = "Completed" if exit_code == 0 else "Error"
        ended = {"terminated": {"exitCode": exit_code, "reason": reason}}
        self._set_pod(pod, "Succeeded" if exit_code == 0 else "Failed", ended)
        return code
