"""The Deployments that read a ConfigMap, and restarting them the way `kubectl rollout restart`
does: pods read a ConfigMap's values when they start (env, envFrom; a mounted volume is updated
in place only eventually, and not at all with subPath), so a restored ConfigMap changes nothing
until its readers restart. The restart sets the pod template annotation
`kubectl.kubernetes.io/restartedAt` to the time (k8s.io/kubectl/pkg/polymorphichelpers/
objectrestarter.go), which rolls the Deployment out with its own template otherwise unchanged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubernetes import client

from bot.domain.request import TargetRef
from integrations.kubernetes.deployment import KubernetesExecutor
from integrations.kubernetes.rollout import json_body, read_named, read_with_retries, revision_of

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def reads_configmap(template: dict[str, Any], name: str) -> bool:
    """A mounted volume (or projected source), envFrom or a configMapKeyRef naming it."""
    spec = template.get("spec") or {}
    for volume in spec.get("volumes") or []:
        if (volume.get("configMap") or {}).get("name") == name:
            return True
        sources = (volume.get("projected") or {}).get("sources") or []
        if any((s.get("configMap") or {}).get("name") == name for s in sources):
            return True
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if any(
            (e.get("configMapRef") or {}).get("name") == name
            for e in container.get("envFrom") or []
        ):
            return True
        for env in container.get("env") or []:
            if ((env.get("valueFrom") or {}).get("configMapKeyRef") or {}).get("name") == name:
                return True
    return False


def restart_patch(at: datetime) -> dict[str, Any]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}


class ConfigReaders:
    def __init__(self, cluster: KubernetesExecutor) -> None:
        self._cluster = cluster

    def of(self, configmap: TargetRef) -> list[TargetRef]:
        """The Deployments in the ConfigMap's namespace that read it (blocking)."""
        apps = client.AppsV1Api(self._cluster.api_for(configmap))
        namespace = configmap.namespace or "default"
        listed = read_with_retries(
            lambda: json_body(
                apps.list_namespaced_deployment(
                    namespace,
                    _preload_content=False,
                    _request_timeout=self._cluster.request_timeout,
                )
            ),
            f"the Deployments in {namespace}",
        )
        return [
            TargetRef(kind="deployment", name=d["metadata"]["name"], namespace=namespace)
            for d in listed["items"]
            if reads_configmap(d["spec"]["template"], configmap.name)
        ]

    def restart(self, deployment: TargetRef, at: datetime) -> tuple[int, dict[str, Any]]:
        """`kubectl rollout restart` (blocking): the revision before, and the Deployment after."""
        apps = client.AppsV1Api(self._cluster.api_for(deployment))
        namespace = deployment.namespace or "default"
        timeout = self._cluster.request_timeout
        before = read_named(apps.read_namespaced_deployment, deployment, timeout)
        body: Any = restart_patch(at)
        patched = json_body(
            apps.patch_namespaced_deployment(
                deployment.name,
                namespace,
                body,
                _preload_content=False,
                _request_timeout=self._cluster.request_timeout,
            )
        )
        return revision_of(before), patched
