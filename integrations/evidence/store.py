"""Evidence stores: a local directory (default) and S3 with Object Lock."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from bot.ports import Clock, EvidenceStoreError


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

    async def free_bytes(self) -> int | None:
        """Room left on the evidence directory's disk (a database backup must fit)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return (await asyncio.to_thread(shutil.disk_usage, self.root)).free

    async def names(self, prefix: str) -> list[str]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        root = self.root.resolve()
        return sorted(
            str(p.relative_to(root))
            for p in folder.rglob("*")
            if p.is_file() and p.suffix != ".partial"
        )


class S3EvidenceStore:
    """S3 with Object Lock: every pack is written under COMPLIANCE retention, so nobody, the
    account root included, can delete or overwrite it before the retention date."""

    async def free_bytes(self) -> int | None:
        return None  # a bucket has no room to run out of (an object may be 5 TB)

    def __init__(self, client: Any, bucket: str, retention: timedelta, clock: Clock) -> None:
        self._client = client
        self._bucket = bucket
        self._retention = retention
        self._clock = clock

    def _put(self, name: str, data: bytes) -> str:
        self._client.put_object(
            Bucket=self._bucket,
            Key=name,
            Body=data,
            ContentMD5=base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode(),
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=self._clock.now() + self._retention,
        )
        return f"s3://{self._bucket}/{name}"

    async def put(self, name: str, data: bytes) -> str:
        try:
            return await asyncio.to_thread(self._put, name, data)
        except (BotoCoreError, ClientError) as exc:
            raise EvidenceStoreError(f"S3 refused {name}: {exc}") from None

    def _get(self, name: str) -> bytes | None:
        try:
            body = self._client.get_object(Bucket=self._bucket, Key=name)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return bytes(body.read())

    async def get(self, name: str) -> bytes | None:
        try:
            return await asyncio.to_thread(self._get, name)
        except (BotoCoreError, ClientError) as exc:
            raise EvidenceStoreError(f"S3 read of {name} failed: {exc}") from None

    def _names(self, prefix: str) -> list[str]:
        found: list[str] = []
        for page in self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        ):
            found += [str(item["Key"]) for item in page.get("Contents", [])]
        return sorted(found)

    async def names(self, prefix: str) -> list[str]:
        try:
            return await asyncio.to_thread(self._names, prefix)
        except (BotoCoreError, ClientError) as exc:
            raise EvidenceStoreError(f"S3 listing of {prefix} failed: {exc}") from None


class EvidenceSettings(Protocol):
    """Where evidence goes, as both the bot's settings and the operator commands' carry it."""

    evidence_dir: Path
    evidence_s3_bucket: str | None
    evidence_s3_endpoint: str | None
    s3_timeout_seconds: float


def store_from(
    settings: EvidenceSettings, retention: timedelta, clock: Clock
) -> LocalEvidenceStore | S3EvidenceStore:
    """S3 with Object Lock when a bucket is configured, else the local evidence directory."""
    if not settings.evidence_s3_bucket:
        return LocalEvidenceStore(settings.evidence_dir)
    import boto3
    from botocore.config import Config

    timeout = settings.s3_timeout_seconds
    client = boto3.client(
        "s3",
        endpoint_url=settings.evidence_s3_endpoint,
        config=Config(connect_timeout=min(5.0, timeout), read_timeout=timeout),
    )
    return S3EvidenceStore(client, settings.evidence_s3_bucket, retention, clock)
