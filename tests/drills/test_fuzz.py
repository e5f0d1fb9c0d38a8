"""Drill 5: hypothesis-made bodies, headers and signatures against /slack/events and
/alerts/alertmanager of a real `rollbot serve`: always a 4xx (never a 500), nothing written."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sandbox.processes import clean_env, rollbot_serve
from sandbox.slack.driver import slack_signature
from sandbox.slack.server import SandboxSlack
from tests.drills.conftest import SECRET
from tests.helpers import NOTHING

ALERT_TOKEN = "drill-alert-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One `rollbot serve` on SQLite for the whole module, run from a loop in its own thread."""
    import threading

    folder = tmp_path_factory.mktemp("fuzz")
    database = folder / "fuzz.db"
    ready: dict[str, str] = {}
    stop = threading.Event()

    async def run() -> None:
        slack = SandboxSlack()
        api = await slack.start()
        env = clean_env(
            ROLLBOT_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
            SLACK_BOT_TOKEN=slack.state.token,
            SLACK_SIGNING_SECRET=SECRET,
            ROLLBOT_SLACK_API_URL=api,
            ROLLBOT_ALERT_TOKEN=ALERT_TOKEN,
            ROLLBOT_AUDIT_KEY_FILE=str(folder / "audit.key"),
            ROLLBOT_EXECUTOR="none",  # the fuzz drill never rolls anything back
        )
        async with rollbot_serve(env) as proc:
            ready["url"] = proc.url
            await asyncio.to_thread(stop.wait)
        await slack.stop()

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    for _ in range(600):
        if "url" in ready:
            break
        time.sleep(0.05)
    yield ready["url"], database
    stop.set()
    thread.join(timeout=30)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _stored(database: Path) -> tuple[int, int, int]:
    import sqlite3

    # the checkpoint rule rollbot records when it starts on a fresh database is not a request's
    with sqlite3.connect(database) as db:
        return tuple(  # type: ignore[return-value]
            db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in (
                "rollback_requests",
                "audit_entries WHERE action != 'audit.checkpoint_rule'",
                "outbox",
            )
        )


header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(str.encode)),
    timestamp=st.one_of(st.none(), header_text, st.integers(0, 2**40).map(str)),
    signature=st.one_of(st.none(), header_text, st.just("v0=" + "0" * 64)),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "application/json", "text/plain", ""]
    ),
)
def test_slack_events_refuses_anything_unsigned(
    served: tuple[str, Path],
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    content_type: str,
) -> None:
    url, database = served
    headers = {"Content-Type": content_type}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    assert _post(url, body, headers) == 401
    assert _stored(database) == (NOTHING.requests, NOTHING.audit, NOTHING.outbox)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)


form_fields = st.dictionaries(
    st.sampled_from(["payload", "command", "text", "user_id", "channel_id", "type", "token"]),
    st.one_of(st.text(max_size=60), json_values.map(json.dumps)),
    max_size=4,
).map(lambda fields: urlencode(fields).encode())


@FUZZ
@example(body=b"{")
@example(body=b"payload=%5B1%5D")
@example(body=b"payload=%7B%22type%22%3A%22block_actions%22%7D")
@example(body=b"command=%2Frollback")
@given(body=st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(str.encode), form_fields))
def test_validly_signed_garbage_is_a_4xx_and_writes_nothing(
    served: tuple[str, Path], body: bytes
) -> None:
    url, database = served
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(SECRET, ts, body),
    }
    status = _post(url, body, headers)
    assert status < 500
    assert _stored(database) == (NOTHING.requests, NOTHING.audit, NOTHING.outbox)


@FUZZ
@given(
    payload=st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=500)),
    auth=st.one_of(st.none(), header_text, st.just(f"Bearer {ALERT_TOKEN}")),
)
def test_alertmanager_endpoint_answers_4xx_to_anything_malformed(
    served: tuple[str, Path], payload: bytes, auth: str | None
) -> None:
    url, database = served
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    status = _post(url.replace("/slack/events", "/alerts/alertmanager"), payload, headers)
    if auth != f"Bearer {ALERT_TOKEN}":
        assert status == 401
    else:
        assert 400 <= status < 500  # no policy route matches, or not a webhook at all
    assert _stored(database) == (NOTHING.requests, NOTHING.audit, NOTHING.outbox)
