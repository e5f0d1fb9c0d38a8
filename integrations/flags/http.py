"""A small JSON client for flag services: one base URL, one Authorization header, and the
retries a flag API needs (429 after Retry-After or X-Ratelimit-Reset, 5xx and connection
errors with backoff). Flag writes rollbot sends are idempotent (turn off, set variation), so
retrying one is safe."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from bot.ports import TargetUnavailableError, UnknownTargetError


class FlagApiError(TargetUnavailableError):
    def __init__(self, message: str, status: int | None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        # the service's own error name: LaunchDarkly's "code", Unleash's "name"
        self.code = code


def _retry_after(value: str | None, now: float) -> float | None:
    """Retry-After is delay-seconds or an HTTP-date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now, 0.0)


def wait_for(resp_headers: Any, attempt: int, max_wait: float, now: float | None = None) -> float:
    """How long to wait before the next try: Retry-After, else X-Ratelimit-Reset (epoch ms),
    else exponential backoff; never more than max_wait."""
    now = time.time() if now is None else now
    after = _retry_after(resp_headers.get("Retry-After"), now)
    if after is not None:
        return min(after, max_wait)
    reset_ms = resp_headers.get("X-Ratelimit-Reset")
    if reset_ms and reset_ms.isdigit():
        return float(min(max(int(reset_ms) / 1000 - now, 0.0), max_wait))
    return min(0.25 * 2.0**attempt, max_wait)


class JsonApi:
    def __init__(
        self,
        base_url: str,
        authorization: str,
        service: str,
        *,
        retries: int = 3,
        max_wait: float = 10.0,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self.base_url = self._base
        self._headers = dict(headers or {})
        self._auth = authorization
        self.service = service
        self._retries = retries
        self._max_wait = max_wait
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        headers = {
            **self._headers,
            **(headers or {}),
            "Authorization": self._auth,
            "Content-Type": content_type,
        }
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                async with (
                    aiohttp.ClientSession(timeout=self._timeout) as http,
                    http.request(
                        method, self._base + path, params=params, data=data, headers=headers
                    ) as resp,
                ):
                    status, text, resp_headers = resp.status, await resp.text(), resp.headers
            except (aiohttp.ClientError, TimeoutError) as exc:
                if last:
                    raise FlagApiError(f"{self.service} unreachable: {exc!r}", None) from None
                await asyncio.sleep(min(0.25 * 2.0**attempt, self._max_wait))
                continue
            if (status == 429 or status >= 500) and not last:
                await asyncio.sleep(wait_for(resp_headers, attempt, self._max_wait))
                continue
            return self._answer(method, path, status, text)
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self, method: str, path: str, status: int, text: str) -> Any:
        try:
            payload = json.loads(text) if text else None
        except json.JSONDecodeError:
            payload = None
        if status < 400:
            return payload
        detail = payload if isinstance(payload, dict) else {}
        message = str(detail.get("message") or text[:200] or "no message")
        if status == 404:
            raise UnknownTargetError(f"{self.service}: {message}")
        tries = f" after {self._retries + 1} tries" if status == 429 or status >= 500 else ""
        raise FlagApiError(
            f"{self.service} answered {method} {path} with {status}{tries}: {message}",
            status,
            str(detail.get("code") or detail.get("name") or ""),
        )
