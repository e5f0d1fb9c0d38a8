"""The three patch flavours kubectl sends: JSON patch (RFC 6902), JSON merge patch (RFC 7386)
and Kubernetes strategic merge patch (lists merged by their merge key)."""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    pass


# Lists that strategic merge patch merges element by element, by this key (from the
# Kubernetes API types' patchMergeKey tags); any other list is replaced whole.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
}


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    target = doc
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    return target, parts[-1]


def json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for op in ops:
        kind, parts = op.get("op"), _pointer(str(op.get("path", "")))
        if not parts:
            if kind in ("add", "replace"):
                out = copy.deepcopy(op["value"])
                continue
            raise PatchError("cannot remove the whole document")
        try:
            parent, key = _parent(out, parts)
            if kind == "test":
                current = parent[int(key)] if isinstance(parent, list) else parent[key]
                if current != op["value"]:
                    raise PatchError(f"test failed at {op['path']}")
            elif kind == "remove":
                del parent[int(key) if isinstance(parent, list) else key]
            elif kind in ("add", "replace"):
                value = copy.deepcopy(op["value"])
                if isinstance(parent, list):
                    index = len(parent) if key == "-" else int(key)
                    if kind == "add":
                        parent.insert(index, value)
                    else:
                        parent[index] = value
                else:
                    if kind == "replace" and key not in parent:
                        raise PatchError(f"replace of missing path {op['path']}")
                    parent[key] = value
            elif kind in ("move", "copy"):
                src_parent, src_key = _parent(out, _pointer(str(op["from"])))
                value = src_parent[int(src_key) if isinstance(src_parent, list) else src_key]
                if kind == "move":
                    del src_parent[int(src_key) if isinstance(src_parent, list) else src_key]
                out = json_patch(out, [{"op": "add", "path": op["path"], "value": value}])
            else:
                raise PatchError(f"unknown operation {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            if isinstance(exc, PatchError):
                raise
            raise PatchError(f"cannot apply {kind} at {op.get('path')}: {exc!r}") from None
    return out


def merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _merge_list(
    current: list[Any], patch: list[Any], key: str, order: list[Any] | None
) -> list[Any]:
    merged = [copy.deepcopy(x) for x in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"list element without merge key {key!r}")
        if item.get("$patch") == "delete":
            merged = [m for m in merged if m.get(key) != item[key]]
            continue
        found = next((i for i, m in enumerate(merged) if m.get(key) == item[key]), None)
        if found is None:
            merged.append(strategic_merge({}, item))
        else:
            merged[found] = strategic_merge(merged[found], item)
    if order:
        rank = {o.get(key): i for i, o in enumerate(order) if isinstance(o, dict)}
        merged.sort(key=lambda m: rank.get(m.get(key), len(rank)))
    return merged


def strategic_merge(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    orders = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(out.get(key), list):
            out[key] = _merge_list(out[key], value, MERGE_KEYS[key], orders.get(key))
        elif isinstance(value, list):
            out[key] = [strategic_merge({}, v) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = strategic_merge(out.get(key), value)
    return out
