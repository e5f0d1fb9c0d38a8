"""Evidence in S3 with Object Lock, against moto in server mode over real HTTP (boto3's own
signing and wire protocol; nothing patched in process)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from bot.ports import EvidenceStoreError
from integrations.evidence.store import S3EvidenceStore
from tests.conftest import FakeClock


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> object:
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket="evidence", ObjectLockEnabledForBucket=True)
    return client


async def test_packs_are_written_under_compliance_retention(s3: object, clock: FakeClock) -> None:
    store = S3EvidenceStore(s3, "evidence", timedelta(days=2555), clock)
    location = await store.put("RB-1/evidence-RB-1.tar.gz", b"pack bytes")
    assert location == "s3://evidence/RB-1/evidence-RB-1.tar.gz"
    assert await store.get("RB-1/evidence-RB-1.tar.gz") == b"pack bytes"
    assert await store.get("RB-1/absent.json") is None
    await store.put("audit-anchors/000000000005.json", b"{}")  # anchors are listed back
    assert await store.names("audit-anchors/") == ["audit-anchors/000000000005.json"]
    assert await store.names("nothing-here/") == []

    # HeadObject reports the lock (moto's GetObjectRetention answer does not parse in botocore)
    head = s3.head_object(Bucket="evidence", Key="RB-1/evidence-RB-1.tar.gz")  # type: ignore[attr-defined]
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"].date() == (clock.now() + timedelta(days=2555)).date()
    versions = s3.list_object_versions(Bucket="evidence")["Versions"]  # type: ignore[attr-defined]
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(
            Bucket="evidence", Key="RB-1/evidence-RB-1.tar.gz", VersionId=versions[0]["VersionId"]
        )  # type: ignore[attr-defined]


async def test_a_bucket_without_object_lock_is_a_clear_storage_error(
    s3_endpoint: str, clock: FakeClock
) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket="plain")
    store = S3EvidenceStore(client, "plain", timedelta(days=1), clock)
    with pytest.raises(EvidenceStoreError, match="S3 refused RB-2/pack"):
        await store.put("RB-2/pack", b"x")


async def test_an_unreachable_endpoint_is_a_storage_error_not_a_crash(clock: FakeClock) -> None:
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    store = S3EvidenceStore(client, "evidence", timedelta(days=1), clock)
    with pytest.raises(EvidenceStoreError):
        await store.put("RB-3/pack", b"x")
