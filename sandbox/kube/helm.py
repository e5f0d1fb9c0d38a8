"""Helm releases in the sandbox cluster as Helm 3 stores them: one Secret per release revision,
`sh.helm.release.v1.<release>.v<N>`, type `helm.sh/release.v1`, labelled `owner=helm`,
`name`, `status` and `version`, its `release` key the release's JSON gzipped and base64-encoded
(Helm's storage driver), which the Secret's data then base64-encodes again."""

from __future__ import annotations

import base64
import gzip
import json

from sandbox.kube.server import SandboxKube


def write_release(
    kube: SandboxKube,
    release: str,
    namespace: str,
    version: int,
    status: str,
    chart: tuple[str, str, str],
) -> None:
    """Release revision `version` of `release` with `chart` (name, version, appVersion)."""
    name, chart_version, app_version = chart
    body = {
        "name": release,
        "namespace": namespace,
        "version": version,
        "info": {"status": status, "description": "Upgrade complete"},
        "chart": {"metadata": {"name": name, "version": chart_version, "appVersion": app_version}},
        "manifest": f"# Source: {name}/templates/deployment.yaml\n",
    }
    encoded = base64.b64encode(gzip.compress(json.dumps(body).encode())).decode()
    kube.store.create(
        "secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "helm.sh/release.v1",
            "metadata": {
                "name": f"sh.helm.release.v1.{release}.v{version}",
                "namespace": namespace,
                "labels": {
                    "owner": "helm",
                    "name": release,
                    "status": status,
                    "version": str(version),
                },
            },
            "data": {"release": base64.b64encode(encoded.encode()).decode()},
        },
    )
