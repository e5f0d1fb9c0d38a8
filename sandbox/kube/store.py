"""Objects of the sandbox cluster: resourceVersions, label and field selectors, and watches that
resume from a resourceVersion the way the real API server's watch cache does."""

from __future__ import annotations

import asyncio
import copy
import itertools
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Resource:
    name: str
    group: str
    version: str
    kind: str
    namespaced: bool
    short: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()


RESOURCES = {
    r.name: r
    for r in (
        Resource("namespaces", "", "v1", "Namespace", False, ("ns",)),
        Resource("pods", "", "v1", "Pod", True, ("po",)),
        Resource("configmaps", "", "v1", "ConfigMap", True, ("cm",)),
        Resource("secrets", "", "v1", "Secret", True),
        Resource("events", "", "v1", "Event", True, ("ev",)),
        Resource("deployments", "apps", "v1", "Deployment", True, ("deploy",)),
        Resource("replicasets", "apps", "v1", "ReplicaSet", True, ("rs",)),
        Resource("jobs", "batch", "v1", "Job", True),
    )
}


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }


def not_found(resource: Resource, name: str) -> ApiError:
    group = f".{resource.group}" if resource.group else ""
    return ApiError(404, "NotFound", f'{resource.name}{group} "{name}" not found')


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def label_match(labels: dict[str, str], selector: str) -> bool:
    """Equality-based selectors (a=b, a==b, a!=b) and bare existence (a), comma-separated."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.strip() not in labels:
            return False
    return True


def _field(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def field_match(obj: dict[str, Any], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        k, v = term.replace("!=", "=").replace("==", "=").split("=", 1)
        equal = str(_field(obj, k.strip()) or "") == v.strip()
        if equal == negate:
            return False
    return True


@dataclass
class Watcher:
    resource: str
    namespace: str | None
    labels: str
    fields: str
    queue: asyncio.Queue[dict[str, Any] | None]


class ObjectStore:
    def __init__(self) -> None:
        self._objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._rv = itertools.count(1)
        self.resource_version = 0
        self._log: deque[tuple[int, str, str, dict[str, Any]]] = deque(maxlen=5000)
        self._watchers: list[Watcher] = []
        self.listeners: list[Any] = []  # the controller: called on every change

    def _bump(self) -> str:
        self.resource_version = next(self._rv)
        return str(self.resource_version)

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = self._objects.get((resource, namespace, name))
        return copy.deepcopy(found) if found else None

    def list(
        self, resource: str, namespace: str | None, labels: str = "", fields: str = ""
    ) -> list[dict[str, Any]]:
        items = [
            copy.deepcopy(o)
            for (res, ns, _), o in sorted(self._objects.items())
            if res == resource and (namespace is None or ns == namespace)
        ]
        return [
            o
            for o in items
            if label_match(o["metadata"].get("labels") or {}, labels) and field_match(o, fields)
        ]

    def _emit(self, resource: str, kind: str, obj: dict[str, Any]) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        self._log.append((rv, resource, kind, copy.deepcopy(obj)))
        for w in list(self._watchers):
            if self._wants(w, resource, obj):
                w.queue.put_nowait({"type": kind, "object": copy.deepcopy(obj)})
        for listener in self.listeners:
            listener(resource, kind, obj)

    @staticmethod
    def _wants(w: Watcher, resource: str, obj: dict[str, Any]) -> bool:
        meta = obj["metadata"]
        return (
            w.resource == resource
            and (w.namespace is None or meta.get("namespace") == w.namespace)
            and label_match(meta.get("labels") or {}, w.labels)
            and field_match(obj, w.fields)
        )

    def create(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        key = (resource, meta.get("namespace", ""), meta["name"])
        if key in self._objects:
            kind = RESOURCES[resource]
            group = f".{kind.group}" if kind.group else ""
            raise ApiError(
                409, "AlreadyExists", f'{resource}{group} "{meta["name"]}" already exists'
            )
        meta.update(
            uid=str(uuid.uuid4()), resourceVersion=self._bump(), creationTimestamp=now_iso()
        )
        meta.setdefault("generation", 1)
        self._objects[key] = copy.deepcopy(obj)
        self._emit(resource, "ADDED", obj)
        return copy.deepcopy(obj)

    def replace(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        key = (resource, meta.get("namespace", ""), meta["name"])
        current = self._objects.get(key)
        if current is None:
            raise not_found(RESOURCES[resource], meta["name"])
        given = meta.get("resourceVersion")
        if given and given != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {resource} "{meta["name"]}": the object has been '
                "modified; please apply your changes to the latest version and try again",
            )
        for kept in ("uid", "creationTimestamp"):
            meta[kept] = current["metadata"][kept]
        meta["generation"] = current["metadata"].get("generation", 1) + (
            obj.get("spec") != current.get("spec")
        )
        meta["resourceVersion"] = self._bump()
        self._objects[key] = copy.deepcopy(obj)
        self._emit(resource, "MODIFIED", obj)
        return copy.deepcopy(obj)

    def delete(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self._objects.pop((resource, namespace, name), None)
        if obj is None:
            raise not_found(RESOURCES[resource], name)
        obj["metadata"]["resourceVersion"] = self._bump()
        self._emit(resource, "DELETED", obj)
        return obj

    def watch(
        self, resource: str, namespace: str | None, labels: str, fields: str, since: int | None
    ) -> Watcher:
        w = Watcher(resource, namespace, labels, fields, asyncio.Queue())
        if since is not None:
            for rv, res, kind, obj in self._log:
                if rv > since and self._wants(w, res, obj):
                    w.queue.put_nowait({"type": kind, "object": copy.deepcopy(obj)})
        self._watchers.append(w)
        return w

    def unwatch(self, w: Watcher) -> None:
        if w in self._watchers:
            self._watchers.remove(w)

    def drop_watches(self) -> None:
        for w in self._watchers:
            w.queue.put_nowait(None)
