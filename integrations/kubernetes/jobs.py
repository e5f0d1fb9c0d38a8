"""Kubernetes Jobs (batch/v1) that rollbot runs and follows to the end: a migration tool's
preview or downgrade, in the image that carries the migrations.

A Job is created once under a name derived from the request, so a process that takes over a
rollback finds the Job its predecessor created and follows it instead of running the downgrade
twice (a 409 AlreadyExists is "follow that one"). `backoffLimit: 0`: a failed downgrade is never
retried blindly; `activeDeadlineSeconds` is the step's own timeout, enforced by the cluster.
Completion is read from the Job's conditions (`Complete`, `Failed` with its reason), as
`kubectl wait --for=condition=complete` does; the log is the last pod's (`job-name` label)."""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bot.domain.request import TargetRef
from bot.ports import JobRun, JobSpec, TargetUnavailableError
from integrations.kubernetes.deployment import KubernetesExecutor
from integrations.kubernetes.rollout import json_body, read_with_retries
from integrations.kubernetes.threads import in_kube_thread

# The cluster deletes a finished Job after a week (ttlSecondsAfterFinished); its log is in the
# evidence pack long before then.
KEEP_FINISHED_SECONDS = 7 * 24 * 3600
# How much longer than the Job's own deadline rollbot waits for the cluster to say it failed.
GRACE_SECONDS = 60.0


def job_manifest(spec: JobSpec) -> dict[str, Any]:
    env = [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for var, secret, key in spec.secret_env
    ]
    labels = {"app.kubernetes.io/managed-by": "rollbot", **spec.labels}
    container = {"name": "migrate", "image": spec.image, "command": list(spec.command), "env": env}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": spec.deadline_seconds,
            "ttlSecondsAfterFinished": KEEP_FINISHED_SECONDS,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }


def finished(job: dict[str, Any]) -> tuple[bool, str] | None:
    """(succeeded, outcome) once the Job has a true Complete or Failed condition; else None."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return True, "Complete"
        if condition.get("type") == "Failed":
            why = f"{condition.get('reason', 'Failed')}: {condition.get('message', '')}".strip()
            return False, why.rstrip(":")
    return None


class KubernetesJobs:
    def __init__(self, kube: KubernetesExecutor, *, poll_seconds: float = 0.5) -> None:
        self._kube = kube
        self._poll = poll_seconds
        self._timeout = kube.request_timeout

    def _api(self, namespace: str) -> Any:
        return self._kube.api_for(TargetRef(kind="job", name="-", namespace=namespace))

    async def image_of(self, namespace: str, deployment: str, container: str | None) -> str:
        """The image a Deployment runs now (its template's), for the Job to run."""
        try:
            found = await in_kube_thread(
                read_with_retries,
                lambda: self._deployment(namespace, deployment),
                f"deployment/{deployment}",
            )
        except ApiException as exc:
            raise TargetUnavailableError(
                f"could not read deployment/{deployment} -n {namespace} for its image "
                f"({exc.status} {exc.reason})"
            ) from None
        containers = found["spec"]["template"]["spec"]["containers"]
        chosen = next((c for c in containers if c["name"] == container), None)
        if container is not None and chosen is None:
            raise TargetUnavailableError(
                f"deployment/{deployment} -n {namespace} has no container `{container}`"
            )
        return str((chosen or containers[0])["image"])

    def _deployment(self, namespace: str, name: str) -> dict[str, Any]:
        apps = client.AppsV1Api(self._api(namespace))
        return json_body(
            apps.read_namespaced_deployment(
                name, namespace, _preload_content=False, _request_timeout=self._timeout
            )
        )

    async def replicas(self, namespace: str, deployment: str) -> int:
        found = await in_kube_thread(
            read_with_retries, lambda: self._deployment(namespace, deployment), deployment
        )
        return int(found["spec"].get("replicas", 1))

    async def scale(self, namespace: str, deployment: str, replicas: int) -> None:
        """`kubectl scale --replicas=N`, then wait as `kubectl rollout status` would for the
        pods to be that many (a restore must not start while the old pods still write)."""
        apps = client.AppsV1Api(self._api(namespace))
        body: Any = {"spec": {"replicas": replicas}}
        try:
            await in_kube_thread(
                lambda: apps.patch_namespaced_deployment(
                    deployment, namespace, body, _request_timeout=self._timeout
                )
            )
        except ApiException as exc:
            raise TargetUnavailableError(
                f"could not scale deployment/{deployment} -n {namespace} to {replicas}: "
                f"{exc.status} {exc.reason}"
            ) from None
        loop = asyncio.get_running_loop()
        stop = loop.time() + GRACE_SECONDS * 2
        while loop.time() < stop:
            found = await in_kube_thread(
                read_with_retries, lambda: self._deployment(namespace, deployment), deployment
            )
            if int((found.get("status") or {}).get("replicas") or 0) == replicas:
                return
            await asyncio.sleep(self._poll)
        raise TargetUnavailableError(
            f"deployment/{deployment} -n {namespace} did not reach {replicas} replicas within "
            f"{int(GRACE_SECONDS * 2)} s"
        )

    def _read(self, namespace: str, name: str) -> dict[str, Any] | None:
        batch = client.BatchV1Api(self._api(namespace))
        try:
            return json_body(
                batch.read_namespaced_job(
                    name, namespace, _preload_content=False, _request_timeout=self._timeout
                )
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _create(self, spec: JobSpec) -> None:
        batch = client.BatchV1Api(self._api(spec.namespace))
        body: Any = job_manifest(spec)  # the client takes the JSON object as it is
        try:
            batch.create_namespaced_job(spec.namespace, body, _request_timeout=self._timeout)
        except ApiException as exc:
            if exc.status != 409:  # AlreadyExists: created before (this request); follow it
                raise TargetUnavailableError(
                    f"the cluster refused Job {spec.name} -n {spec.namespace}: "
                    f"{exc.status} {exc.reason}"
                ) from None

    def _log(self, namespace: str, name: str) -> str:
        core = client.CoreV1Api(self._api(namespace))
        pods = json_body(
            core.list_namespaced_pod(
                namespace,
                label_selector=f"job-name={name}",
                _preload_content=False,
                _request_timeout=self._timeout,
            )
        )["items"]
        if not pods:
            return ""
        last = max(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "")
        try:
            response: Any = core.read_namespaced_pod_log(
                last["metadata"]["name"],
                namespace,
                _preload_content=False,
                _request_timeout=self._timeout,
            )
        except ApiException as exc:  # a pod that never started has no log
            return f"(no log: {exc.status} {exc.reason})"
        return str(response.data.decode(errors="replace"))

    async def run(self, spec: JobSpec) -> JobRun:
        """Create the Job (or find the one created before under its name) and follow it."""
        await in_kube_thread(self._create, spec)
        followed = await self.follow(spec.namespace, spec.name, spec.deadline_seconds)
        assert followed is not None  # just created
        return followed

    async def exists(self, namespace: str, name: str) -> bool:
        found = await in_kube_thread(
            read_with_retries, lambda: self._read(namespace, name), f"job/{name}"
        )
        return found is not None

    async def follow(self, namespace: str, name: str, deadline: float) -> JobRun | None:
        """The Job to its end; None when there is no such Job."""
        loop = asyncio.get_running_loop()
        stop = loop.time() + deadline + GRACE_SECONDS
        while True:
            job = await in_kube_thread(
                read_with_retries, lambda: self._read(namespace, name), f"job/{name}"
            )
            if job is None:
                return None
            done = finished(job)
            if done is not None:
                log = await in_kube_thread(self._log, namespace, name)
                return JobRun(name=name, succeeded=done[0], outcome=done[1], log=log)
            if loop.time() > stop:
                return JobRun(
                    name=name,
                    succeeded=False,
                    outcome=f"did not finish within {int(deadline)} s (and the cluster did not "
                    "fail it at its deadline)",
                    log=await in_kube_thread(self._log, namespace, name),
                )
            await asyncio.sleep(self._poll)
