"""Checked before rollbot starts with the Kubernetes executor: the cluster credentials it was
given exist, so a wrong path fails at start-up with the variable to fix, not at the first P1."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import urllib3
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


class ApiServerUnreachableError(Exception):
    """The API server did not answer /version as it should; the message is one line."""


def _why(exc: BaseException) -> str:
    """urllib3 wraps the socket's reason several times over; people need only the reason."""
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    if found:
        return found.group(1).strip().lower()
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return type(exc.reason).__name__
    return type(exc).__name__


async def api_server_version(api: Any, request_timeout: float) -> str:
    """What `kubectl version` asks the API server (GET /version): it answers, and as what."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from integrations.kubernetes.threads import in_kube_thread

    host = api.configuration.host
    try:
        info = await in_kube_thread(
            lambda: client.VersionApi(api).get_code(_request_timeout=request_timeout)
        )
    except ApiException as exc:
        raise ApiServerUnreachableError(
            f"the API server at {host} answered GET /version with {exc.status} {exc.reason}"
        ) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ApiServerUnreachableError(
            f"cannot reach the API server at {host}: {_why(exc)}"
        ) from None
    return f"Kubernetes {info.git_version}"
