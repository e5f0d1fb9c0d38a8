"""Checked before rollbot starts with the Kubernetes executor: the cluster credentials it was
given exist, so a wrong path fails at start-up with the variable to fix, not at the first P1."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kubernetes import config

# What a pod's service account provides (kubernetes.config.incluster_config)
IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def kubeconfig_problem(kubeconfig: Path | None, context: str | None) -> str | None:
    """One line naming what is missing and which variable fixes it; None when usable."""
    if kubeconfig is None:
        if os.environ.get("KUBERNETES_SERVICE_HOST") and IN_CLUSTER_TOKEN.exists():
            return None
        return (
            "ROLLBOT_EXECUTOR=kubernetes needs cluster credentials: set ROLLBOT_KUBECONFIG to a "
            "kubeconfig file, or run rollbot in a pod with a service account"
        )
    if not kubeconfig.is_file():
        return f"ROLLBOT_KUBECONFIG points to {kubeconfig}, which does not exist"
    try:
        contexts, current = config.list_kube_config_contexts(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    except Exception as exc:
        return f"ROLLBOT_KUBECONFIG {kubeconfig} is not a usable kubeconfig ({exc})"
    names = [c["name"] for c in contexts or []]
    if context is not None and context not in names:
        return (
            f"ROLLBOT_KUBE_CONTEXT={context} is not a context in {kubeconfig} "
            f"(it has: {', '.join(names) or 'none'})"
        )
    if context is None and not current:
        return f"{kubeconfig} has no current context: set ROLLBOT_KUBE_CONTEXT"
    return None


async def api_server_version(api: Any, request_timeout: float) -> str:
    """What `kubectl version` asks the API server (GET /version): it answers, and as what."""
    from kubernetes import client

    from integrations.kubernetes.threads import in_kube_thread

    info = await in_kube_thread(
        lambda: client.VersionApi(api).get_code(_request_timeout=request_timeout)
    )
    return f"Kubernetes {info.git_version}"
