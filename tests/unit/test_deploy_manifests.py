"""deploy/kubernetes stays least-privilege: no Secrets, no cluster-wide role, only the verbs the
executor uses."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"


def _docs() -> list[dict[str, object]]:
    return [
        d for f in sorted(DEPLOY.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d
    ]


def test_rbac_is_namespaced_and_never_touches_secrets() -> None:
    docs = _docs()
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    [role] = [d for d in docs if d["kind"] == "Role"]
    rules = role["rules"]  # type: ignore[index]
    granted = {
        (g, r): set(rule["verbs"])
        for rule in rules
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }  # type: ignore[union-attr]
    assert ("", "secrets") not in granted
    assert granted[("apps", "deployments")] == {"get", "list", "watch", "patch"}
    assert "delete" not in set().union(*granted.values())


def test_rollbot_runs_with_its_service_account_and_probes() -> None:
    [deployment] = [d for d in _docs() if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]  # type: ignore[index]
    assert pod["serviceAccountName"] == "rollbot"
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"name": "ROLLBOT_EXECUTOR", "value": "kubernetes"} in container["env"]
