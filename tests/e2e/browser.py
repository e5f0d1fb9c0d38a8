"""Debian's Chromium, headless, driven over the Chrome DevTools Protocol: the real browser runs
the page's own script; a test clicks by running `element.click()` in it and waits for what the
page then shows. No browser download, no driver package: a websocket and a few CDP methods
(Target.createTarget, Page.navigate, Runtime.evaluate, Page.captureScreenshot)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
    "--remote-debugging-port=0",
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (make test installs Debian's package)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(reason=message)
    return found


class Browser:
    def __init__(self, profile: Path) -> None:
        self._profile = profile
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._session = ""

    async def __aenter__(self) -> Browser:
        self._proc = await asyncio.create_subprocess_exec(
            chromium(),
            *FLAGS,
            f"--user-data-dir={self._profile}",
            "about:blank",
            stderr=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
        )
        assert self._proc.stderr is not None
        url = ""
        while not url:
            line = (await asyncio.wait_for(self._proc.stderr.readline(), timeout=60)).decode()
            assert line, "chromium exited before it listened"
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            url = found.group(1) if found else ""
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(url, max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        target = await self.send("Target.createTarget", {"url": "about:blank"}, browser=True)
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, browser=True
        )
        self._session = attached["sessionId"]
        await self.send("Page.enable")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._reader.cancel()
        await self._ws.close()
        await self._http.close()
        self._proc.kill()
        await self._proc.wait()

    async def _read(self) -> None:
        async for message in self._ws:
            data = json.loads(message.data)
            waiting = self._waiting.pop(data.get("id", -1), None)
            if waiting is not None and not waiting.done():
                if "error" in data:
                    waiting.set_exception(RuntimeError(str(data["error"])))
                else:
                    waiting.set_result(data.get("result", {}))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False
    ) -> Any:
        number = next(self._ids)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[number] = done
        body: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if not browser:
            body["sessionId"] = self._session
        await self._ws.send_str(json.dumps(body))
        return await asyncio.wait_for(done, timeout=30)

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})

    async def run(self, script: str) -> Any:
        """The script's value, run in the page as its own code runs."""
        answer = await self.send(
            "Runtime.evaluate", {"expression": script, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in answer:
            raise AssertionError(f"the page's script failed: {answer['exceptionDetails']}")
        return answer.get("result", {}).get("value")

    async def until(self, condition: str, what: str, seconds: float = 60) -> Any:
        """Wait until `condition` (JavaScript) is truthy in the page; its value."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            value = await self.run(condition)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                text = await self.run("document.body.innerText")
                raise AssertionError(f"the page never showed {what}; it shows:\n{text}")
            await asyncio.sleep(0.2)

    async def screenshot(self, path: Path) -> None:
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
