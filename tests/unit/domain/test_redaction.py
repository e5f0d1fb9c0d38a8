"""Secrets never reach an evidence pack: generated secrets planted anywhere in generated
manifests never survive redaction into the pack's bytes, and a fixed corpus of real-world
shapes (Helm-rendered Deployments, ConfigMaps with connection strings) is checked too."""

from __future__ import annotations

import base64
import copy
import io
import json
import random
import tarfile
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.audit.evidence_pack import build_pack
from bot.domain.policy import RollbackType
from bot.domain.redaction import REDACTED, credential_name, redact, redact_text
from tests.unit.domain.factories import make_request

SECRET = st.text(alphabet="abcdefghjkmnpqrstuvwxyz23456789", min_size=10, max_size=28).map(
    lambda s: "zq" + s  # never a word of the manifest itself
)
# a key as a key generator makes it: random bytes (from a fixed random state, so hypothesis can replay it)
RANDOM_KEY = st.tuples(st.integers(0, 2**32), st.integers(30, 48)).map(
    lambda state_size: (
        base64.urlsafe_b64encode(random.Random(state_size[0]).randbytes(state_size[1]))
        .decode()
        .rstrip("=")
    )
)
CREDENTIAL_NAMES = st.sampled_from(
    [
        "DB_PASS",
        "DB_PASSWORD",
        "API_KEY",
        "apiToken",
        "SESSION_SECRET",
        "x-auth-token",
        "PRIVATE_KEY",
        "stripeSecretKey",
        "SMTP_PWD",
        "SENTRY_DSN",
        "COOKIE_SECRET",
        "GITHUB_TOKEN",
    ]
)


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "api",
            "namespace": "prod",
            "labels": {"app": "api", "helm.sh/chart": "api-1.4.0"},
            "annotations": {"deployment.kubernetes.io/revision": "3"},
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {
                    "containers": [
                        {
                            "name": "api",
                            "image": "registry.example/api@sha256:" + "ab12" * 16,
                            "args": ["serve", "--port=8080"],
                            "env": [{"name": "LOG_LEVEL", "value": "info"}],
                        }
                    ]
                },
            }
        },
    }


def _plant(kind: str, secret: str, name: str) -> tuple[str, Any]:
    """Where a secret goes and how it is written there."""
    container_env = {"name": name, "value": secret}
    return {
        "env by name": ("env", container_env),
        "database url": (
            "env",
            {"name": "DATABASE_URL", "value": f"postgres://app:{secret}@db:5432/app"},
        ),
        "jdbc query": (
            "env",
            {"name": "JDBC", "value": f"jdbc:mysql://db/app?user=app&password={secret}"},
        ),
        "flag with equals": ("args", f"--password={secret}"),
        "api key flag": ("args", f"--api-key={secret}"),
        "flag then value": ("args", ["--token", secret]),
        "env line": ("args", f"DB_PASSWORD={secret} ./start"),
        "annotation manifest": (
            "annotation",
            json.dumps({"env": [{"name": "X", "value": secret}]}),
        ),
        "last applied": ("last-applied", json.dumps({"spec": {"password": secret}})),
        "pem": (
            "annotation",
            f"-----BEGIN PRIVATE KEY-----\nMII{secret}\n-----END PRIVATE KEY-----",
        ),
        "configmap data": ("data", secret),
        "field by name": ("field", secret),
    }[kind]


def _manifest_with(kind: str, secret: str, name: str) -> dict[str, Any]:
    out = _deployment()
    container = out["spec"]["template"]["spec"]["containers"][0]
    where, value = _plant(kind, secret, name)
    if where == "env":
        container["env"].append(value)
    elif where == "args":
        container["args"] += value if isinstance(value, list) else [value]
    elif where == "annotation":
        out["metadata"]["annotations"]["example.com/config"] = value
    elif where == "last-applied":
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = value
    elif where == "data":
        out = {"kind": "ConfigMap", "metadata": {"name": "api-config"}, "data": {"anything": value}}
    else:
        container[name] = value
    return out


def _pack_text(before: dict[str, Any], after: dict[str, Any]) -> str:
    pack = build_pack(
        make_request(RollbackType.DEPLOYMENT_LAST_VERSION), timeline=[], before=before, after=after
    )
    with tarfile.open(fileobj=io.BytesIO(pack.data)) as tar:
        return "".join(
            tar.extractfile(m).read().decode()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        )


KINDS = st.sampled_from(
    [
        "env by name",
        "database url",
        "jdbc query",
        "flag with equals",
        "api key flag",
        "flag then value",
        "env line",
        "annotation manifest",
        "last applied",
        "pem",
        "configmap data",
        "field by name",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=KINDS, secret=SECRET, name=CREDENTIAL_NAMES)
def test_a_planted_secret_never_reaches_the_pack(kind: str, secret: str, name: str) -> None:
    manifest = _manifest_with(kind, secret, name)
    kept = copy.deepcopy(manifest)
    redacted = redact(manifest, salt="RB-TEST01")
    assert manifest == kept  # pure: the capture itself is untouched
    assert secret not in json.dumps(redacted)
    assert secret not in _pack_text(redacted, redacted)
    # what an auditor needs stays: names, images, revisions
    assert "registry.example/api@sha256:" in json.dumps(redacted) or kind == "configmap data"


@settings(max_examples=200, deadline=None)
@given(key=RANDOM_KEY, prefix=st.sampled_from(["", "token: ", "Authorization: Bearer ", "key "]))
# found by this test: 30 random bytes whose base64 measures only 4.17 bits a character
@example(key="YdPjvP_-yl-YJPPKtP6ljKIZr3djdIm5kPtsQtPQ", prefix="")
def test_a_random_key_in_any_text_is_redacted(key: str, prefix: str) -> None:
    line = f"the API answered 401 for {prefix}{key} (expired)"
    assert key not in redact_text(line)


@settings(max_examples=200, deadline=None)
@given(key=RANDOM_KEY)
def test_a_random_key_in_a_url_path_is_redacted(key: str) -> None:
    line = f"posted to https://hooks.example.com/services/T0AB12CD3/{key.replace('/', '')}"
    assert key.replace("/", "") not in redact_text(line)


def test_a_link_to_an_approval_request_stays_readable() -> None:
    link = (
        "https://app.launchdarkly.com/projects/default/flags/new-checkout/approvals/"
        "fe3c82433db14a2193012efa?env=production"
    )
    assert redact_text(f"opened approval request {link}") == f"opened approval request {link}"
    webhook = "http://127.0.0.1:8080/services/T0AB12CD3/B0XY45ZW6/q8Lr2mN5vT7kP1sD9fG3hJ6a"
    assert redact_text(webhook) == "http://127.0.0.1:8080/services/T0AB12CD3/B0XY45ZW6/<redacted>"


def test_digests_uids_and_ordinary_words_stay() -> None:
    digest = "sha256:" + "0123456789abcdef" * 4
    uid = "6b1c0b8e-2a4f-4c1d-9e3f-0d9f1c2b3a4e"
    text = f"image {digest} uid {uid}: invalid token provided, password reset needed"
    assert redact_text(text) == text
    assert not credential_name("DATABASE_URL")
    assert not credential_name("keyboard_layout")
    assert credential_name("apiKey")
    assert credential_name("SSH_PRIVATE_KEY")
    assert not credential_name("key")  # an S3 object's key, a Secret entry's name
    assert credential_name("SESSION")
    assert credential_name("authHeader")


def test_a_helm_rendered_deployment_and_its_configmap() -> None:
    helm = _deployment()
    helm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = (
        '{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"containers":'
        '[{"env":[{"name":"DB_PASSWORD","value":"hunter2"}]}]}}}}'
    )
    helm["metadata"]["annotations"]["meta.helm.sh/release-name"] = "api"
    env = helm["spec"]["template"]["spec"]["containers"][0]["env"]
    env += [
        {
            "name": "DATABASE_URL",
            "value": "postgresql://api:Tr0ub4dor@pg.prod:5432/api?sslmode=require",
        },
        {"name": "REDIS_URL", "value": "redis://:s3cr3tRedis@redis:6379/0"},
        {"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"},
        {"name": "STRIPE", "valueFrom": {"secretKeyRef": {"name": "stripe", "key": "api-key"}}},
        {"name": "SIGNING", "value": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhcGkifQ.c2lnbmF0dXJlLXNpZw"},
    ]
    configmap = {
        "kind": "ConfigMap",
        "metadata": {"name": "api-config"},
        "data": {
            "application.properties": "spring.datasource.url=jdbc:postgresql://pg/api\n"
            "spring.datasource.password=Pa55w0rd!",
            "LOG_LEVEL": "info",
        },
    }
    out = json.dumps([redact(helm, "RB-1"), redact(configmap, "RB-1")])
    for secret in (
        "hunter2",
        "Tr0ub4dor",
        "s3cr3tRedis",
        "AKIAIOSFODNN7EXAMPLE",
        "Pa55w0rd!",
        "c2lnbmF0dXJlLXNpZw",
    ):
        assert secret not in out, secret
    assert "postgresql://api:" + REDACTED + "@pg.prod:5432/api?sslmode=require" in out
    assert '"meta.helm.sh/release-name": "api"' in out
    assert '"LOG_LEVEL": "hmac-sha256:' in out  # config values: key kept, value hashed


def test_an_annotation_that_only_looks_like_a_document_is_kept() -> None:
    kept = redact({"annotations": {"note": "{not json", "list": "[1, 2]"}})
    assert kept == {"annotations": {"note": "{not json", "list": REDACTED}}
