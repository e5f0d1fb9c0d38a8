"""An aiohttp application served on 127.0.0.1 at a port the OS picks: the shape of every
sandbox fake that has no state of its own to expose beyond its app."""

from __future__ import annotations

from aiohttp import web


class LocalHttpServer:
    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.url = ""

    def build_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> str:
        self._runner = web.AppRunner(self.build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
