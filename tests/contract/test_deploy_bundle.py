"""deploy/kubernetes as the real kubectl renders it (`kubectl kustomize`): what a cluster would
run is what rollbot needs: images, commands that exist, probes on real routes, the restricted
security context, every setting it requires, least-privilege RBAC, and monitoring that reads
metrics rollbot exports."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from typer.testing import CliRunner

from bot.config.metrics import Metrics
from bot.config.policy_file import load_policy
from bot.config.settings import DatabaseSettings, Settings, variable_name
from bot.domain.request import RequestState
from rollbot.cli import app
from tests.contract.kubectl import KUBECTL, require_kubectl

require_kubectl()

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "deploy" / "kubernetes"
Doc = dict[str, Any]


def _render(directory: Path) -> list[Doc]:
    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return _render(BUNDLE)


@pytest.fixture(scope="module")
def monitoring() -> list[Doc]:
    return _render(BUNDLE / "monitoring")


def _one(docs: list[Doc], kind: str, name: str) -> Doc:
    """The one resource of that kind and name (a generated ConfigMap's name has a hash suffix)."""
    named = re.compile(rf"{re.escape(name)}(-[a-z0-9]{{10}})?")
    [found] = [d for d in docs if d["kind"] == kind and named.fullmatch(d["metadata"]["name"])]
    return found


def _deployments(docs: list[Doc]) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}


def _container(deployment: Doc) -> Doc:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _dockerfile_user() -> int:
    [user] = re.findall(r"^USER (\d+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    return int(user)


def test_the_bundle_holds_every_part(docs: list[Doc]) -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"].rsplit("-", 1)[0]) for d in docs)
    assert {k for k, _ in kinds} == {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
        "Ingress",
        "NetworkPolicy",
        "PodDisruptionBudget",
    }
    assert set(_deployments(docs)) == {"rollbot-ack", "rollbot-worker"}
    # the Secret's values never live in the bundle: it is a template applied by hand
    assert not [d for d in docs if d["kind"] == "Secret"]


def test_rbac_is_namespaced_and_never_touches_secrets(docs: list[Doc]) -> None:
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    role = _one(docs, "Role", "rollbot-rollbacks")
    granted = {
        (g, r): set(rule["verbs"])
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert ("", "secrets") not in granted
    assert granted[("apps", "deployments")] == {"get", "list", "watch", "patch"}
    assert "delete" not in set().union(*granted.values())
    binding = _one(docs, "RoleBinding", "rollbot-rollbacks")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "rollbot", "namespace": "rollbot"}
    ]


def test_each_deployment_runs_a_real_command_on_its_probed_port(docs: list[Doc]) -> None:
    runner = CliRunner()
    expected = {"rollbot-ack": ["serve", "--no-worker"], "rollbot-worker": ["worker"]}
    for name, deployment in _deployments(docs).items():
        container = _container(deployment)
        assert container["image"] == "rollbot:0.1.0"
        args = container["args"]
        assert args[: len(expected[name])] == expected[name]
        # the command and its options exist: typer refuses an unknown one with exit 2
        assert runner.invoke(app, [*args, "--help"]).exit_code == 0, args
        port = int(args[args.index("--port") + 1])
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] == "http"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    ack, worker = (_container(_deployments(docs)[n]) for n in ("rollbot-ack", "rollbot-worker"))
    # storing what arrives needs the database only; a worker needs every part
    assert ack["readinessProbe"]["httpGet"]["path"] == "/readyz/database"
    assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_pods_meet_the_restricted_pod_security_standard(docs: list[Doc]) -> None:
    namespace = _one(docs, "Namespace", "rollbot")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for deployment in _deployments(docs).values():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == _dockerfile_user()
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        container = _container(deployment)
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        # the read-only root's one writable place is where the image keeps matplotlib's cache
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        assert "MPLCONFIGDIR=/tmp/" in (ROOT / "Dockerfile").read_text()
        assert set(container["resources"]) == {"limits", "requests"}
    ack = _deployments(docs)["rollbot-ack"]["spec"]["template"]["spec"]
    assert ack["automountServiceAccountToken"] is False  # it never calls the API server
    worker = _deployments(docs)["rollbot-worker"]["spec"]["template"]["spec"]
    assert worker["serviceAccountName"] == "rollbot"


def _secret_template() -> tuple[dict[str, str], str]:
    text = (BUNDLE / "secret.example.yaml").read_text()
    secret = yaml.safe_load(text)
    assert (secret["kind"], secret["metadata"]) == (
        "Secret",
        {"name": "rollbot", "namespace": "rollbot"},
    )
    return secret["stringData"], text


def _provided(docs: list[Doc], deployment: Doc) -> dict[str, str]:
    """Every variable a container gets: its ConfigMaps and the Secret (from the template), then
    its own env (which wins, as in Kubernetes)."""
    container = _container(deployment)
    found: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            found |= _one(docs, "ConfigMap", source["configMapRef"]["name"])["data"]
        else:
            assert source["secretRef"]["name"] == "rollbot"  # the template's Secret
            found |= _secret_template()[0]
    return found | {e["name"]: e["value"] for e in container.get("env", [])}


def _known_variables() -> set[str]:
    known = {variable_name(Settings, f) for f in Settings.model_fields}
    return known | {variable_name(DatabaseSettings, f) for f in DatabaseSettings.model_fields}


def test_every_required_setting_is_provided_and_every_named_one_exists(docs: list[Doc]) -> None:
    required = {
        variable_name(Settings, f) for f, i in Settings.model_fields.items() if i.is_required()
    }
    assert required == {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}
    for name, deployment in _deployments(docs).items():
        env = _provided(docs, deployment)
        assert required <= set(env), name
        # several replicas: one shared PostgreSQL database and one shared audit key, never a
        # SQLite file or a key file each pod would make for itself
        assert env["ROLLBOT_DATABASE_URL"].startswith("postgresql://"), name
        assert "ROLLBOT_AUDIT_SIGNING_KEY" in env, name
        policy = env["ROLLBOT_POLICY_FILE"]
        mounts = {m["mountPath"]: m["name"] for m in _container(deployment)["volumeMounts"]}
        volume = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}[
            mounts[str(Path(policy).parent)]
        ]
        policy_map = _one(docs, "ConfigMap", volume["configMap"]["name"])
        assert Path(policy).name in policy_map["data"]
    worker = _provided(docs, _deployments(docs)["rollbot-worker"])
    assert worker["ROLLBOT_EXECUTOR"] == "kubernetes"
    # evidence off the pod: the read-only root has no room for it and a pod's disk is not kept
    assert worker["ROLLBOT_EVIDENCE_S3_BUCKET"]
    # a misspelt variable is silently ignored by rollbot: every one the bundle names is real
    texts = [p.read_text() for p in BUNDLE.rglob("*.yaml")]
    named = {v for t in texts for v in re.findall(r"\b(?:ROLLBOT|SLACK)_[A-Z0-9_]+\b", t)}
    assert named <= _known_variables(), named - _known_variables()


def test_the_secret_template_explains_every_value() -> None:
    values, text = _secret_template()
    lines = text.splitlines()
    for key in values:
        [at] = [i for i, line in enumerate(lines) if line.strip().startswith(f"{key}:")]
        assert lines[at - 1].strip().startswith("#"), f"{key} has no comment above it"
    assert "rollbot audit keygen --print-key" in text
    # the command the template names prints exactly the line the Secret needs
    made = CliRunner().invoke(app, ["audit", "keygen", "--print-key"])
    assert made.exit_code == 0
    assert made.output.startswith("ROLLBOT_AUDIT_SIGNING_KEY=")


def test_the_policy_config_map_is_the_example_policy_and_it_loads(
    docs: list[Doc], tmp_path: Path
) -> None:
    policy_map = _one(docs, "ConfigMap", "rollbot-policy")
    assert policy_map["metadata"]["namespace"] == "rollbot"
    text = policy_map["data"]["policy.yaml"]
    assert text == (ROOT / "examples" / "policy.yaml").read_text()
    (tmp_path / "policy.yaml").write_text(text)
    assert load_policy(tmp_path / "policy.yaml").services["api"].auto_rollback_on_timeout


def _readme_overlay() -> str:
    """The overlay README's "Run it in your cluster" tells a team to write."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Run it in your cluster") :]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    block = next(b for b in blocks if "kind: Kustomization" in b)
    return "\n".join(line.removeprefix("   ") for line in block.splitlines())


def test_the_readme_overlay_sets_image_policy_and_host(tmp_path: Path) -> None:
    """README's recipe for a team's own deployment, written beside a clone as it says: the
    team's policy replaces the ConfigMap the Deployments mount, the image is theirs, and the
    Ingress answers on their host."""
    (tmp_path / "rollbot-deploy").mkdir()
    (tmp_path / "rollbot-deploy" / "policy.yaml").write_text("version: 1\n")
    (tmp_path / "rollbot").symlink_to(ROOT)
    overlay = _readme_overlay()
    assert "- ../rollbot/deploy/kubernetes" in overlay
    (tmp_path / "rollbot-deploy" / "kustomization.yaml").write_text(overlay)
    docs = _render(tmp_path / "rollbot-deploy")
    policy_map = _one(docs, "ConfigMap", "rollbot-policy")
    assert policy_map["data"] == {"policy.yaml": "version: 1\n"}
    for deployment in _deployments(docs).values():
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        assert {"name": "policy", "configMap": {"name": policy_map["metadata"]["name"]}} in volumes
        assert _container(deployment)["image"] == "registry.example.com/rollbot:0.1.0"
    ingress = _one(docs, "Ingress", "rollbot")["spec"]
    assert ingress["rules"][0]["host"] == "rollbot.yourcompany.com"
    assert ingress["tls"][0]["hosts"] == ["rollbot.yourcompany.com"]


def _pod_labels(docs: list[Doc]) -> dict[str, dict[str, str]]:
    return {n: d["spec"]["template"]["metadata"]["labels"] for n, d in _deployments(docs).items()}


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_services_ingress_policies_and_budgets_reach_the_right_pods(docs: list[Doc]) -> None:
    labels = _pod_labels(docs)
    ack, worker = labels["rollbot-ack"], labels["rollbot-worker"]
    service = _one(docs, "Service", "rollbot")
    assert _selects(service["spec"]["selector"], ack)
    assert not _selects(service["spec"]["selector"], worker)  # Slack never reaches a worker
    ingress = _one(docs, "Ingress", "rollbot")
    [rule] = ingress["spec"]["rules"]
    [path] = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/slack/events", "Exact")
    assert path["backend"]["service"] == {"name": "rollbot", "port": {"name": "http"}}
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]
    for name, pod in labels.items():
        budgets = [
            d
            for d in docs
            if d["kind"] == "PodDisruptionBudget"
            if _selects(d["spec"]["selector"]["matchLabels"], pod)
        ]
        assert [b["spec"]["minAvailable"] for b in budgets] == [1], name
        port = _container(_deployments(docs)[name])["ports"][0]["containerPort"]
        allowed = [
            p["port"]
            for d in docs
            if d["kind"] == "NetworkPolicy"
            and _selects(d["spec"]["podSelector"]["matchLabels"], pod)
            for rule in d["spec"].get("ingress", [])
            for p in rule["ports"]
        ]
        assert allowed, name
        assert set(allowed) == {port}, name
    egress = _one(docs, "NetworkPolicy", "rollbot-egress")
    opened = {p["port"] for rule in egress["spec"]["egress"] for p in rule["ports"]}
    assert {53, 443, 5432} <= opened


def _exported() -> dict[str, tuple[str, set[str]]]:
    """Every series name rollbot exports, with its label names."""
    metrics = Metrics()
    found: dict[str, tuple[str, set[str]]] = {}
    for held in vars(metrics).values():
        if not isinstance(held, MetricWrapperBase):
            continue
        base, kind = held._name, held._type  # the client keeps them private
        labels = set(held._labelnames)
        suffixes = {
            "counter": ["_total"],
            "gauge": [""],
            "histogram": ["_bucket", "_sum", "_count"],
            "info": ["_info"],
        }[kind]
        for suffix in suffixes:
            found[base + suffix] = (kind, labels | ({"le"} if suffix == "_bucket" else set()))
        if kind == "info":
            found[base + "_info"] = (kind, {"version"})
    return found


def _exprs(monitoring: list[Doc]) -> Iterator[tuple[str, str]]:
    rules = _one(monitoring, "PrometheusRule", "rollbot")
    for group in rules["spec"]["groups"]:
        for rule in group["rules"]:
            yield rule["alert"], rule["expr"]
    board = json.loads(
        _one(monitoring, "ConfigMap", "rollbot-dashboard")["data"]["rollbot-dashboard.json"]
    )
    for panel in board["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["expr"]


def test_alerts_and_dashboard_read_metrics_rollbot_exports(monitoring: list[Doc]) -> None:
    exported = _exported()
    seen: set[str] = set()
    for where, expr in _exprs(monitoring):
        for name, selector in re.findall(r"\b(rollbot_[a-z_]+)(\{[^}]*\})?", expr):
            assert name in exported, f"{where}: {name} is not a metric rollbot exports"
            seen.add(name)
            used = set(re.findall(r"(\w+)\s*=~?", selector))
            assert used <= exported[name][1], f"{where}: {name} has no label {used}"
        for grouped in re.findall(r"by \(([^)]*)\)", expr):
            names = {n.strip() for n in grouped.split(",")}
            assert any(names <= labels for _, labels in exported.values()), where
    # every figure the issue asks an SRE to alert on is on the dashboard or in a rule
    assert {
        "rollbot_rollbacks_total",
        "rollbot_request_duration_seconds_bucket",
        "rollbot_open_requests",
        "rollbot_approvals_pending_oldest_seconds",
        "rollbot_obligations_overdue",
        "rollbot_decision_timeouts_total",
        "rollbot_inbox_oldest_seconds",
        "rollbot_outbox_oldest_seconds",
        "rollbot_outbox_failed_total",
        "rollbot_scheduler_last_tick_timestamp_seconds",
        "rollbot_build_info",
    } <= seen


def test_alert_rules_name_real_states_and_the_policys_deadline(monitoring: list[Doc]) -> None:
    rules = {
        r["alert"]: r
        for g in _one(monitoring, "PrometheusRule", "rollbot")["spec"]["groups"]
        for r in g["rules"]
    }
    assert {
        "RollbotSchedulerStalled",
        "RollbotOutboxStuck",
        "RollbotApprovalWaitingPastSLA",
    } <= set(rules)
    for rule in rules.values():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        said = rule["annotations"]["summary"] + rule["annotations"]["description"]
        for state in re.findall(r"--state (\w+)", said):
            assert state in {s.value for s in RequestState}, f"{rule['alert']}: {state}"
    sla = load_policy(ROOT / "examples" / "policy.yaml").deadlines.decision_timeout
    expr = rules["RollbotApprovalWaitingPastSLA"]["expr"]
    assert expr.endswith(f"> {int(sla.total_seconds())}")


def test_service_monitor_scrapes_both_services(docs: list[Doc], monitoring: list[Doc]) -> None:
    monitor = _one(monitoring, "ServiceMonitor", "rollbot")
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = [d for d in docs if d["kind"] == "Service"]
    scraped = [s for s in services if _selects(selector, s["metadata"]["labels"])]
    assert {s["metadata"]["name"] for s in scraped} == {"rollbot", "rollbot-worker"}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    for service in scraped:
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    # a worker's metrics matter most when it is not ready
    worker = _one(docs, "Service", "rollbot-worker")
    assert worker["spec"]["publishNotReadyAddresses"] is True


def test_every_alert_says_what_to_do_in_the_operations_guide(monitoring: list[Doc]) -> None:
    """An alert that fires at night points to a section that says what it means and what to
    do; a new rule without one fails here."""
    guide = (ROOT / "docs" / "operations.md").read_text()
    sections = set(re.findall(r"^### (\w+)$", guide, re.MULTILINE))
    alerts = {
        r["alert"]
        for g in _one(monitoring, "PrometheusRule", "rollbot")["spec"]["groups"]
        for r in g["rules"]
    }
    assert alerts == sections
    for state in re.findall(r"--state (\w+)", guide):
        assert state in {s.value for s in RequestState}, state
