"""Server-side printing: `kubectl get` asks for meta.k8s.io Table and prints its cells."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def age(obj: dict[str, Any]) -> str:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return "<unknown>"
    seconds = int(
        (
            datetime.now(UTC) - datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        ).total_seconds()
    )
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _columns(resource: str) -> list[tuple[str, str]]:
    return {
        "deployments": [
            ("Name", "string"),
            ("Ready", "string"),
            ("Up-to-date", "integer"),
            ("Available", "integer"),
            ("Age", "string"),
        ],
        "replicasets": [
            ("Name", "string"),
            ("Desired", "integer"),
            ("Current", "integer"),
            ("Ready", "integer"),
            ("Age", "string"),
        ],
        "pods": [
            ("Name", "string"),
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "string"),
            ("Age", "string"),
        ],
        "configmaps": [("Name", "string"), ("Data", "integer"), ("Age", "string")],
    }.get(resource, [("Name", "string"), ("Age", "string")])


def _cells(resource: str, obj: dict[str, Any]) -> list[Any]:
    name, spec, status = obj["metadata"]["name"], obj.get("spec") or {}, obj.get("status") or {}
    if resource == "deployments":
        return [
            name,
            f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0),
            age(obj),
        ]
    if resource == "replicasets":
        return [
            name,
            spec.get("replicas", 0),
            status.get("replicas", 0),
            status.get("readyReplicas", 0),
            age(obj),
        ]
    if resource == "pods":
        statuses = status.get("containerStatuses") or []
        ready = sum(1 for c in statuses if c.get("ready"))
        return [name, f"{ready}/{len(statuses)}", status.get("phase", "Unknown"), "0", age(obj)]
    if resource == "configmaps":
        return [name, len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age(obj)]
    return [name, age(obj)]


def table(resource: str, items: list[dict[str, Any]], resource_version: str) -> dict[str, Any]:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": n,
                "type": t,
                "format": "name" if n == "Name" else "",
                "description": n,
                "priority": 0,
            }
            for n, t in _columns(resource)
        ],
        "rows": [
            {
                "cells": _cells(resource, o),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o["metadata"],
                },
            }
            for o in items
        ],
    }
