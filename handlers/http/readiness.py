"""GET /readiness?target=deployment/api&namespace=prod&version=v2: the readiness gate for CI
systems that cannot run `rollbot readiness`. A bearer token (ROLLBOT_READINESS_TOKEN), else
401; a malformed question, 400 naming the fix; ready, 200; not ready, 412 with each failing
condition, so `curl --fail` stops the pipeline."""

from __future__ import annotations

from aiohttp import web

from bot.domain.targets import InputError, target_from
from bot.ports import AdapterError
from bot.usecases.rollback_readiness import ReadinessGate
from handlers.http.auth import authorized

NOT_READY = 412


def readiness_route(gate: ReadinessGate, *, token: str | None) -> web.RouteDef:
    async def readiness(request: web.Request) -> web.Response:
        if not authorized(request.headers.get("Authorization", ""), token):
            return web.json_response({"error": "unauthorized"}, status=401)
        query = request.query
        version = query.get("version", "").strip()
        if not version:
            return web.json_response(
                {"error": "say which release: ?version=<image or tag>"}, status=400
            )
        try:
            target = target_from(query.get("target", ""), query.get("namespace"))
        except InputError as exc:
            return web.json_response({"error": exc.problem}, status=400)
        try:
            answer = await gate.answer(target, version)
        except AdapterError as exc:
            return web.json_response({"error": str(exc)}, status=503)
        body = {**answer.model_dump(mode="json"), "ready": answer.ready}
        return web.json_response(body, status=200 if answer.ready else NOT_READY)

    return web.get("/readiness", readiness)
