"""Releases in the sandbox cluster: a Deployment created, then new images rolled out one by one,
so a test or the demo starts from a history kubectl can roll back through."""

from __future__ import annotations

from sandbox.kube.controller import default_deployment
from sandbox.kube.server import SandboxKube


async def release_app(
    kube: SandboxKube,
    app: str,
    images: tuple[str, ...],
    namespace: str = "prod",
    template_annotations: tuple[dict[str, str], ...] = (),
) -> None:
    """Releases of one app in a namespace of the sandbox cluster (prod unless named), oldest
    first; `template_annotations[i]`, when given, are release i's pod template annotations."""
    if kube.store.get("namespaces", "", namespace) is None:
        kube.store.create(
            "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
    for i, image in enumerate(images):
        container = {"name": app, "image": image}
        if i == 0:
            created = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": app, "namespace": namespace},
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": {"app": app}},
                    "template": {
                        "metadata": {
                            "labels": {"app": app},
                            **(
                                {"annotations": template_annotations[0]}
                                if template_annotations
                                else {}
                            ),
                        },
                        "spec": {"containers": [container]},
                    },
                },
            }
            # as the API server does on every write: what a real `kubectl apply` leaves
            default_deployment(created)
            kube.store.create("deployments", created)
        else:
            live = kube.store.get("deployments", namespace, app)
            assert live is not None
            live["spec"]["template"]["spec"]["containers"] = [container]
            if i < len(template_annotations):
                live["spec"]["template"]["metadata"]["annotations"] = template_annotations[i]
            kube.store.replace("deployments", live)
        await kube.controller.idle()
