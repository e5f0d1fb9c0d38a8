"""A Kubernetes API server for the sandbox, speaking real JSON over HTTP: discovery, OpenAPI v3
(with server-side field validation, so kubectl does not need the protobuf v2 document), CRUD,
the three patch types, streamed watches, Tables for `kubectl get`, Status errors, and faults.

Run standalone: `rollbot sandbox kube --port N --kubeconfig PATH`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.kube.controller import DeploymentController, default_deployment
from sandbox.kube.discovery import add_discovery
from sandbox.kube.jobs import JobController, default_job
from sandbox.kube.patch import PatchError, json_patch, merge_patch, strategic_merge
from sandbox.kube.pods import ContainerOutput, crash, pod_log
from sandbox.kube.store import RESOURCES, ApiError, ObjectStore, Resource, not_found
from sandbox.kube.tables import table


class Faults:
    """What tests can make the cluster do wrong."""

    def __init__(self) -> None:
        self.error_rate = 0.0
        # Which HTTP methods the injected 500s hit: reads only ({"GET"}) is what a flaky API
        # server's reads look like; every method includes writes that may or may not have landed.
        self.errors_on: frozenset[str] = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
        self.latency = 0.0
        self.conflicts_on_patch = 0
        # A hung API server: requests of these methods get their answer only after
        # `hang_seconds` (the work is done then, as a slow server's would be), long after a
        # client with a timeout has given up.
        self.hang_on: frozenset[str] = frozenset()
        self.hang_seconds = 0.0
        self.hanging = 0  # requests held up by hang_on right now
        self.drop_next_watch = False
        self.deny_access = False
        self._random = random.Random(7)

    def roll(self) -> bool:
        return self.error_rate > 0 and self._random.random() < self.error_rate


def _status(err: ApiError) -> web.Response:
    return web.json_response(err.status(), status=err.code)


class KubeApi:
    def __init__(self, store: ObjectStore, faults: Faults, output: ContainerOutput) -> None:
        self.store = store
        self.faults = faults
        self.output = output

    def _resource(self, request: web.Request) -> Resource:
        name = request.match_info["resource"]
        resource = RESOURCES.get(name)
        group = request.match_info.get("group", "")
        if resource is None or resource.group != group:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return resource

    def _ensure_namespace(self, namespace: str) -> None:
        if self.store.get("namespaces", "", namespace) is None:
            if namespace in ("default", "kube-system"):
                self.store.create(
                    "namespaces",
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                )
            else:
                raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found')

    async def collection(self, request: web.Request) -> web.StreamResponse:
        resource = self._resource(request)
        namespace = request.match_info.get("namespace")
        if request.method == "POST":
            return await self._create(request, resource, namespace)
        q = request.query
        if q.get("watch") in ("true", "1"):
            return await self._watch(request, resource, namespace)
        items = self.store.list(
            resource.name, namespace, q.get("labelSelector", ""), q.get("fieldSelector", "")
        )
        rv = str(self.store.resource_version)
        if "as=Table" in request.headers.get("Accept", ""):
            return web.json_response(table(resource.name, items, rv))
        return web.json_response(
            {
                "kind": f"{resource.kind}List",
                "apiVersion": resource.api_version,
                "metadata": {"resourceVersion": rv},
                "items": items,
            }
        )

    async def _body(self, request: web.Request) -> Any:
        if request.content_type == "application/vnd.kubernetes.protobuf":
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the sandbox API server speaks JSON only; protobuf bodies (typed `kubectl create "
                "configmap|deployment`) are not decoded here: use `kubectl create -f FILE`",
            )
        try:
            return json.loads(await request.read())
        except json.JSONDecodeError as exc:
            raise ApiError(400, "BadRequest", f"the request body is not JSON: {exc}") from None

    def _validate(self, resource: Resource, obj: Any, namespace: str | None) -> dict[str, Any]:
        if not isinstance(obj, dict) or obj.get("kind") != resource.kind:
            raise ApiError(400, "BadRequest", f"expected a {resource.kind}")
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ApiError(
                422,
                "Invalid",
                f"{resource.kind} is invalid: metadata.name: Required value: name is required",
            )
        if resource.namespaced:
            assert namespace is not None
            if meta.setdefault("namespace", namespace) != namespace:
                raise ApiError(
                    400, "BadRequest", "the namespace of the object does not match the request"
                )
        if resource.name == "deployments":
            spec = obj.get("spec") or {}
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not selector or any(labels.get(k) != v for k, v in selector.items()):
                raise ApiError(
                    422,
                    "Invalid",
                    f'Deployment.apps "{meta["name"]}" is invalid: spec.template.metadata.labels: '
                    "Invalid value: `selector` does not match template `labels`",
                )
            default_deployment(obj)
        if resource.name == "jobs":
            default_job(obj)
        return obj

    async def _create(
        self, request: web.Request, resource: Resource, namespace: str | None
    ) -> web.Response:
        if namespace:
            self._ensure_namespace(namespace)
        obj = self._validate(resource, await self._body(request), namespace)
        obj["apiVersion"] = resource.api_version
        return web.json_response(self.store.create(resource.name, obj), status=201)

    async def item(self, request: web.Request) -> web.Response:
        resource = self._resource(request)
        namespace = request.match_info.get("namespace", "")
        name = request.match_info["name"]
        current = self.store.get(resource.name, namespace, name)
        if request.method == "DELETE":
            return web.json_response(self.store.delete(resource.name, namespace, name))
        if current is None:
            raise not_found(resource, name)
        if request.method == "GET":
            if "as=Table" in request.headers.get("Accept", ""):
                return web.json_response(
                    table(resource.name, [current], current["metadata"]["resourceVersion"])
                )
            return web.json_response(current)
        if request.method == "PUT":
            obj = self._validate(resource, await self._body(request), namespace or None)
            return web.json_response(self.store.replace(resource.name, obj))
        return await self._patch(request, resource, current)

    async def _patch(
        self, request: web.Request, resource: Resource, current: dict[str, Any]
    ) -> web.Response:
        if self.faults.conflicts_on_patch > 0:
            self.faults.conflicts_on_patch -= 1
            raise ApiError(
                409,
                "Conflict",
                f"Operation cannot be fulfilled on {resource.name} "
                f'"{current["metadata"]["name"]}": the object has been modified; please apply your '
                "changes to the latest version and try again",
            )
        body = await self._body(request)
        ctype = request.content_type
        try:
            if ctype == "application/json-patch+json":
                patched = json_patch(current, body)
            elif ctype == "application/merge-patch+json":
                patched = merge_patch(current, body)
            elif ctype == "application/strategic-merge-patch+json":
                patched = strategic_merge(current, body)
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format: {ctype}",
                )
        except PatchError as exc:
            raise ApiError(422, "Invalid", str(exc)) from None
        patched["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        obj = self._validate(resource, patched, current["metadata"].get("namespace") or None)
        return web.json_response(self.store.replace(resource.name, obj))

    async def _watch(
        self, request: web.Request, resource: Resource, namespace: str | None
    ) -> web.StreamResponse:
        q = request.query
        since = (
            int(q["resourceVersion"]) if q.get("resourceVersion", "0") not in ("", "0") else None
        )
        watcher = self.store.watch(
            resource.name, namespace, q.get("labelSelector", ""), q.get("fieldSelector", ""), since
        )
        response = web.StreamResponse(
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        )
        await response.prepare(request)
        timeout = float(q.get("timeoutSeconds", "1800"))
        drop = self.faults.drop_next_watch
        self.faults.drop_next_watch = False
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while (left := deadline - loop.time()) > 0:
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), timeout=left)
                except TimeoutError:
                    break
                if event is None:
                    break
                await response.write(json.dumps(event).encode() + b"\n")
                if drop:
                    break  # a watch that drops mid-stream, as behind a flaky load balancer
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.unwatch(watcher)
        return response

    async def pod_log(self, request: web.Request) -> web.Response:
        text = pod_log(
            self.store,
            self.output,
            request.match_info["namespace"],
            request.match_info["name"],
            request.query,
        )
        return web.Response(text=text, content_type="text/plain")

    async def access_review(self, request: web.Request) -> web.Response:
        review = await self._body(request)
        allowed = not self.faults.deny_access
        review["status"] = {
            "allowed": allowed,
            **({} if allowed else {"reason": "sandbox: access denied"}),
        }
        return web.json_response(review, status=201)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_kube_app(
    store: ObjectStore, faults: Faults, output: ContainerOutput | None = None
) -> web.Application:
    api = KubeApi(store, faults, output or ContainerOutput())

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        if faults.latency:
            await asyncio.sleep(faults.latency)
        if request.method in faults.hang_on:
            faults.hanging += 1  # a test can tell the request is held up here
            try:
                await asyncio.sleep(faults.hang_seconds)
            finally:
                faults.hanging -= 1
        if (
            request.query.get("watch") not in ("true", "1")
            and request.path.startswith(("/api/", "/apis/"))
            and request.method in faults.errors_on
            and faults.roll()
        ):
            return _status(ApiError(500, "InternalError", "sandbox: injected server error"))
        try:
            return await handler(request)
        except ApiError as err:
            return _status(err)

    app = web.Application(middlewares=[errors])
    r = app.router
    add_discovery(r)
    r.add_post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", api.access_review)
    r.add_get("/api/v1/namespaces/{namespace}/pods/{name}/log", api.pod_log)
    for prefix in ("/api/v1", "/apis/{group}/v1"):
        r.add_route("*", prefix + "/namespaces/{namespace}/{resource}", api.collection)
        r.add_route("*", prefix + "/namespaces/{namespace}/{resource}/{name}", api.item)
        r.add_route("*", prefix + "/{resource}", api.collection)
    r.add_route("*", "/api/v1/{resource}/{name}", api.item)
    return app


class SandboxKube:
    """The fake cluster on 127.0.0.1 (port 0: any free port), with its deployment controller."""

    def __init__(self, *, rollout_seconds: float = 0.4, deadline_scale: float = 0.002) -> None:
        self.store = ObjectStore()
        self.faults = Faults()
        self.controller = DeploymentController(
            self.store, rollout_seconds=rollout_seconds, deadline_scale=deadline_scale
        )
        # Jobs run for real: `images` maps an image to the folder standing in for it.
        self.jobs = JobController(self.store, self.controller.output)
        self.images = self.jobs.images
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self, port: int = 0) -> str:
        self._runner = web.AppRunner(
            build_kube_app(self.store, self.faults, self.controller.output), access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{bound}"
        return self.url

    def write_kubeconfig(
        self, path: Path, *, namespace: str = "default", context: str = "sandbox"
    ) -> Path:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": context,
                    "clusters": [{"name": context, "cluster": {"server": self.url}}],
                    "users": [{"name": "rollbot", "user": {"token": "sandbox-token"}}],
                    "contexts": [
                        {
                            "name": context,
                            "context": {
                                "cluster": context,
                                "user": "rollbot",
                                "namespace": namespace,
                            },
                        }
                    ],
                },
                indent=2,
            )
        )
        return path

    def put_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """A Secret as `kubectl create secret generic` writes it (values base64)."""
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        self.store.create(
            "secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": name, "namespace": namespace},
                "data": encoded,
            },
        )

    def crash(self, image: str, *last_words: str) -> None:
        """Containers of `image` crash once and restart; `kubectl logs --previous` shows these."""
        crash(self.store, self.controller.output, image, list(last_words))

    async def stop(self) -> None:
        self.store.drop_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
