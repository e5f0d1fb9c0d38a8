"""What the sandbox API server says about itself: discovery documents and the OpenAPI v3 that
lets kubectl validate on the server."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.kube.store import RESOURCES

GROUPS = {"": "v1", "apps": "v1", "batch": "v1"}


def resource_list(group: str) -> dict[str, Any]:
    version = GROUPS[group]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [
            {
                "name": r.name,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
                "shortNames": list(r.short),
            }
            for r in RESOURCES.values()
            if r.group == group
        ],
    }


def openapi_paths(group: str) -> dict[str, Any]:
    """Operations that advertise fieldValidation: kubectl then validates on the server."""
    param = {
        "name": "fieldValidation",
        "in": "query",
        "schema": {"type": "string", "uniqueItems": True},
    }
    paths: dict[str, Any] = {}
    for r in RESOURCES.values():
        if r.group != group:
            continue
        gvk = {"group": r.group, "kind": r.kind, "version": r.version}
        prefix = f"/apis/{r.api_version}" if r.group else "/api/v1"
        scope = "/namespaces/{namespace}" if r.namespaced else ""

        def op(verb: str, gvk: dict[str, str] = gvk) -> dict[str, Any]:
            return {
                "parameters": [param],
                "x-kubernetes-action": verb,
                "x-kubernetes-group-version-kind": gvk,
                "responses": {"200": {"description": "OK"}},
            }

        paths[f"{prefix}{scope}/{r.name}"] = {"post": op("post")}
        paths[f"{prefix}{scope}/{r.name}/{{name}}"] = {"put": op("put"), "patch": op("patch")}
    return paths


def openapi(group: str) -> dict[str, Any]:
    schemas = {
        f"io.k8s.api.{r.group or 'core'}.{r.version}.{r.kind}": {
            "type": "object",
            "x-kubernetes-group-version-kind": [
                {"group": r.group, "kind": r.kind, "version": r.version}
            ],
            "x-kubernetes-preserve-unknown-fields": True,
        }
        for r in RESOURCES.values()
        if r.group == group
    }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": openapi_paths(group),
        "components": {"schemas": schemas},
    }


def static_json(payload: dict[str, Any]) -> Any:
    async def handler(_: web.Request) -> web.Response:
        return web.json_response(payload)

    return handler


SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.22.10",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _discovery() -> dict[str, Any]:
    """What kubectl reads before anything else: version, API groups, resource lists, OpenAPI."""
    return {
        # `kubectl version` and the client's VersionApi: the API server's build, as it reports it
        "/version": SERVER_VERSION,
        "/api": {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}
            ],
        },
        "/apis": {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
                }
                for g in ("apps", "batch", "authorization.k8s.io")
            ],
        },
        "/api/v1": resource_list(""),
        "/apis/apps/v1": resource_list("apps"),
        "/apis/batch/v1": resource_list("batch"),
        "/apis/authorization.k8s.io/v1": {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "authorization.k8s.io/v1",
            "resources": [
                {
                    "name": "selfsubjectaccessreviews",
                    "singularName": "",
                    "namespaced": False,
                    "kind": "SelfSubjectAccessReview",
                    "verbs": ["create"],
                }
            ],
        },
        "/openapi/v3": {
            "paths": {
                "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=sandbox"},
                "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=sandbox"},
                "apis/batch/v1": {"serverRelativeURL": "/openapi/v3/apis/batch/v1?hash=sandbox"},
            }
        },
        "/openapi/v3/api/v1": openapi(""),
        "/openapi/v3/apis/apps/v1": openapi("apps"),
        "/openapi/v3/apis/batch/v1": openapi("batch"),
    }


def add_discovery(r: web.UrlDispatcher) -> None:
    for path, document in _discovery().items():
        r.add_get(path, static_json(document))
    # the Python client asks for /version/ (with the slash); the API server answers both
    r.add_get("/version/", static_json(SERVER_VERSION))
