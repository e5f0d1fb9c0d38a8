"""The runbook's readable Kubernetes evidence, rendered from the JSON capture: what
`kubectl describe deployment`, `kubectl get pods -o yaml` and `kubectl get events` print.

Pure functions over the captured objects, so a test can hold each line against the JSON it came
from. The layouts follow kubectl (k8s.io/kubectl/pkg/describe/describe.go DeploymentDescriber;
pkg/printers for the events table), with one deliberate change: times are absolute UTC, not
kubectl's "5m ago", because an auditor reads the file months later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import yaml

HASH_LABEL = "pod-template-hash"


def _pairs(values: Mapping[str, Any] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((values or {}).items())) or "<none>"


def _env_line(env: Mapping[str, Any]) -> str:
    source = env.get("valueFrom") or {}
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        return f"{env['name']}:  <set to the key '{ref.get('key')}' in secret '{ref.get('name')}'>"
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        return (
            f"{env['name']}:  <set to the key '{ref.get('key')}' of config map '{ref.get('name')}'>"
        )
    return f"{env['name']}:  <set>"  # values stay out of the readable form, as in the JSON


def _containers(template: Mapping[str, Any]) -> list[str]:
    lines = ["  Containers:"]
    for c in (template.get("spec") or {}).get("containers") or []:
        lines.append(f"   {c.get('name')}:")
        lines.append(f"    Image:        {c.get('image', '<none>')}")
        ports = ",".join(
            f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in c.get("ports") or []
        )
        lines.append(f"    Port:         {ports or '<none>'}")
        env = c.get("env") or []
        lines.append("    Environment:" + ("" if env else "  <none>"))
        lines.extend(f"      {_env_line(e)}" for e in env)
        for source in c.get("envFrom") or []:
            ref = source.get("configMapRef") or source.get("secretRef") or {}
            kind = "ConfigMap" if "configMapRef" in source else "Secret"
            lines.append(f"    Environment Variables from:\n      {ref.get('name')}  {kind}")
    return lines


def _conditions(status: Mapping[str, Any]) -> list[str]:
    rows = [
        (c.get("type", ""), c.get("status", ""), c.get("reason", ""))
        for c in status.get("conditions") or []
    ]
    if not rows:
        return ["Conditions:     <none>"]
    lines = [
        "Conditions:",
        f"  {'Type':<15}{'Status':<8}Reason",
        f"  {'----':<15}{'------':<8}------",
    ]
    lines.extend(f"  {t:<15}{s:<8}{r}" for t, s, r in rows)
    return lines


def _replica_sets(
    deployment: Mapping[str, Any], replicasets: Iterable[Mapping[str, Any]]
) -> list[str]:
    revision = (deployment["metadata"].get("annotations") or {}).get(
        "deployment.kubernetes.io/revision"
    )
    new, old = [], []
    for rs in replicasets:
        spec, status = rs.get("spec") or {}, rs.get("status") or {}
        label = f"{rs['metadata']['name']} ({status.get('replicas', 0)}/{spec.get('replicas', 0)} replicas created)"
        mine = (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
        if mine == revision:
            new.append(label)
        elif spec.get("replicas"):
            old.append(label)
    return [
        f"OldReplicaSets:  {', '.join(old) or '<none>'}",
        f"NewReplicaSet:   {', '.join(new) or '<none>'}",
    ]


def describe_deployment(captured: Mapping[str, Any]) -> str:
    """`kubectl describe deployment` of the captured Deployment, its ReplicaSets and events."""
    d = captured["deployment"]
    meta, spec, status = d["metadata"], d.get("spec") or {}, d.get("status") or {}
    strategy = spec.get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    annotations = "\n                        ".join(
        f"{k}: {v}" for k, v in sorted((meta.get("annotations") or {}).items())
    )
    lines = [
        f"Name:                   {meta['name']}",
        f"Namespace:              {meta.get('namespace', 'default')}",
        f"CreationTimestamp:      {meta.get('creationTimestamp', '<unknown>')}",
        f"Labels:                 {_pairs(meta.get('labels'))}",
        f"Annotations:            {annotations or '<none>'}",
        f"Selector:               {_pairs((spec.get('selector') or {}).get('matchLabels'))}",
        f"Replicas:               {spec.get('replicas', 0)} desired | {status.get('updatedReplicas', 0)} updated"
        f" | {status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available"
        f" | {status.get('unavailableReplicas', 0)} unavailable",
        f"StrategyType:           {strategy.get('type', '<none>')}",
        f"MinReadySeconds:        {spec.get('minReadySeconds', 0)}",
    ]
    if rolling:
        lines.append(
            f"RollingUpdateStrategy:  {rolling.get('maxUnavailable')} max unavailable, "
            f"{rolling.get('maxSurge')} max surge"
        )
    if spec.get("paused"):
        lines.append("Paused:                 true")
    template = spec.get("template") or {}
    lines += [
        "Pod Template:",
        f"  Labels:  {_pairs((template.get('metadata') or {}).get('labels'))}",
    ]
    lines += _containers(template)
    lines += _conditions(status)
    lines += _replica_sets(d, captured.get("replicasets") or [])
    lines += ["Events:", *_event_rows(captured.get("events") or [], indent="  ", only=meta["name"])]
    return "\n".join(lines) + "\n"


def _when(event: Mapping[str, Any]) -> str:
    return str(
        event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or ""
    )


def _event_rows(
    events: Iterable[Mapping[str, Any]], *, indent: str, only: str | None = None
) -> list[str]:
    rows = [
        (
            _when(e),
            e.get("type", ""),
            e.get("reason", ""),
            f"{e['involvedObject'].get('kind', '').lower()}/{e['involvedObject'].get('name', '')}",
            e.get("message", ""),
        )
        for e in sorted(events, key=_when)
        if only is None or e["involvedObject"].get("name") == only
    ]
    if not rows:
        return [f"{indent}<none>"]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    heads = ("LAST SEEN (UTC)", "TYPE", "REASON", "OBJECT")
    widths = [max(w, len(h)) for w, h in zip(widths, heads, strict=True)]
    out = [
        indent + "   ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)) + "   MESSAGE"
    ]
    out.extend(
        indent + "   ".join(v.ljust(w) for v, w in zip(r[:4], widths, strict=True)) + f"   {r[4]}"
        for r in rows
    )
    return out


def of_the_rollout(
    events: Iterable[Mapping[str, Any]],
    deployment: Mapping[str, Any],
    replicasets: Iterable[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The events of the Deployment, its ReplicaSets and their pods (named after their
    ReplicaSet), gone pods included."""
    names = {rs["metadata"]["name"] for rs in replicasets}
    prefixes = tuple(f"{name}-" for name in names) or ("\0",)
    names.add(deployment["metadata"]["name"])
    return [
        dict(e)
        for e in events
        if e["involvedObject"].get("name") in names
        or e["involvedObject"].get("name", "").startswith(prefixes)
    ]


def events_in_window(captured: Mapping[str, Any], since: datetime) -> list[dict[str, Any]]:
    """The captured events (the rollout's own, see of_the_rollout) from `since` on."""
    floor = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [dict(e) for e in captured.get("events") or [] if _when(e) >= floor]


def events_table(events: Iterable[Mapping[str, Any]]) -> str:
    """`kubectl get events` for the incident window, with absolute times."""
    return "\n".join(_event_rows(events, indent="")) + "\n"


def pods_yaml(captured: Mapping[str, Any]) -> str:
    """`kubectl get pods -o yaml`: a v1 List of the captured pods."""
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": list(captured.get("pods") or []),
    }
    return yaml.safe_dump(listing, sort_keys=True, default_flow_style=False)


def live_pods(captured: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pods of the revision running at capture: the version a rollback rolls back from, or
    the one it restored."""
    revision = (captured["deployment"]["metadata"].get("annotations") or {}).get(
        "deployment.kubernetes.io/revision"
    )
    hashes = {
        (rs["metadata"].get("labels") or {}).get(HASH_LABEL)
        or ((rs.get("spec") or {}).get("selector") or {}).get("matchLabels", {}).get(HASH_LABEL)
        for rs in captured.get("replicasets") or []
        if (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
        == revision
    }
    return [
        dict(p)
        for p in captured.get("pods") or []
        if (p["metadata"].get("labels") or {}).get(HASH_LABEL) in hashes
    ]
