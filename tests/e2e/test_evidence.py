"""Evidence packs end to end (the rollback runbook "Create evidence pack"; the SOC 2 rollback and recovery procedures auditor evidence)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

from bot.audit.chain import CHECKPOINT_RULE
from bot.domain.targets import target_from
from bot.usecases.audit_export import verify_database
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.conftest import FakeClock
from tests.e2e.workflow import card, click, command, thread
from tests.e2e.workflow import summary as summary_of

P1_OLDER = 'deployment/api -n prod --to-revision 1 --severity P1 --reason "5xx since v1.3.0" --ticket https://t.example/INC-9'


def _pack(runtime: Runtime) -> tuple[Path, dict[str, bytes]]:
    [path] = list(runtime.settings.evidence_dir.glob("*/evidence-*.tar.gz"))
    with tarfile.open(path) as tar:
        files = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    return path, files


async def _audit(runtime: Runtime) -> list[Any]:
    async with runtime.uow() as uow:
        return [e for e in await uow.audit.entries() if e.action != CHECKPOINT_RULE]


async def test_a_completed_rollback_leaves_a_verifiable_evidence_pack(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(runtime, driver, channel, "U0ALICE", P1_OLDER)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    await click(runtime, driver, slack, channel, "U0DAVE", ActionId.CONFIRM_RECOVERY)  # P1 closes

    path, files = _pack(runtime)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sorted(files) == [
        "after.json",
        "before.json",
        "diff.txt",
        "manifest.json",
        "target-after.txt",
        "target-before.txt",
        "timeline.json",
    ]
    manifest = json.loads(files["manifest.json"])
    assert manifest["files"] == sorted(set(files) - {"manifest.json"})
    assert manifest["capture_gaps"] == []
    timeline = json.loads(files["timeline.json"])
    approved = next(e for e in timeline if e["action"] == "approval.given")
    assert manifest["links"]["decided_at"] == approved["at"]  # the approval that decided it
    [ran] = manifest["verification"]["checks"]
    passed = next(e for e in timeline if e["action"] == "verification.passed")
    assert (ran["at"], ran["step"]) == (passed["at"], "passed")
    assert ran["checks"]["health_check"] == "passed 1/1"
    assert ran["output"] == f"timeline.json, audit entry {passed['seq']}"
    # the runbook's fields
    assert manifest["component"] == "deployment/api -n prod"
    assert (manifest["from_version"], manifest["to_version"]) == ("3", "1")
    assert (manifest["from_image"], manifest["to_image"]) == ("api:1.3.0", "api:1.2.2")
    assert manifest["approver"] == ["U0BOB"]
    assert manifest["reason"] == "5xx since v1.3.0"
    assert manifest["incident_id"].startswith("INC-")
    assert manifest["verification"]["health_check"] == "passed 1/1"  # what the verifier ran
    assert set(manifest) >= {"rollback_id", "timestamp", "verification"}
    # rollbot's
    assert manifest["requester"]["id"] == "U0ALICE"
    assert manifest["approvals"][0]["role"] == "engineering_lead"
    assert manifest["decision"]["tree_path"][1] == {
        "question": "Is the issue critical (P1)?",
        "answer": "yes",
    }
    assert manifest["severity"]["class"] == "P1"
    assert manifest["links"]["ticket"] == "https://t.example/INC-9"
    assert json.loads(files["before.json"])["image"] == "api:1.3.0"
    assert json.loads(files["after.json"])["image"] == "api:1.2.2"
    assert '-  "image": "api:1.3.0"' in files["diff.txt"].decode()
    assert [e["action"] for e in json.loads(files["timeline.json"])][-1] == "verification.passed"

    packed = [e for e in await _audit(runtime) if e.action == "evidence.packed"]
    assert len(packed) == 1
    assert json.loads(packed[0].body)["payload"]["sha256"] == sha
    assert f"Evidence pack sha256 `{sha}`" in str(summary_of(slack, channel)["blocks"])
    assert (await verify_database(runtime.engine, runtime.uow.signer.public_key)).ok


async def test_packs_are_reproducible(runtime: Runtime) -> None:
    from bot.audit.evidence_pack import build_pack
    from tests.unit.domain.factories import make_request

    request = make_request()
    first = build_pack(request, timeline=[{"seq": 1}], before={"a": 1}, after={"a": 2})
    again = build_pack(request, timeline=[{"seq": 1}], before={"a": 1}, after={"a": 2})
    assert first.data == again.data
    assert first.sha256 == hashlib.sha256(first.data).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(first.data)) as tar:
        assert all(m.mtime == 0 for m in tar.getmembers())


async def test_a_failing_evidence_store_never_blocks_the_rollback_and_is_retried(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str, clock: FakeClock
) -> None:
    blocked = runtime.settings.evidence_dir
    await runtime.anchors.drain()  # the start-up checkpoint's anchor is already in there
    shutil.rmtree(blocked, ignore_errors=True)
    blocked.write_text("a file where the evidence directory should be")
    await command(
        runtime, driver, channel, "U0ALICE", 'deployment/api -n prod --severity P2 --reason "down"'
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)

    [request] = await runtime.queries.history(target_from("deployment/api", "prod"))
    assert request.state.value == "completed"  # the rollback itself was not held up
    assert "Evidence pack not stored yet" in thread(slack, channel)[-1]
    assert [e.action for e in await _audit(runtime)][-1] == "evidence.upload_failed"
    summaries = [m for m in slack.state.history(channel) if m["text"] == f"{request.id}: completed"]
    assert summaries == []  # the summary waits for the pack

    assert await runtime.evidence.retry_pending() == 0  # not due for a minute
    clock.advance(minutes=1)
    assert await runtime.evidence.retry_pending() == 0  # still blocked: told again, not lost
    failures = [e.action for e in await _audit(runtime)].count("evidence.upload_failed")
    assert failures == 2
    blocked.unlink()
    clock.advance(minutes=1)
    assert await runtime.evidence.retry_pending() == 0  # backing off: the next try is 2 min later
    clock.advance(minutes=1)
    assert await runtime.evidence.retry_pending() == 1
    clock.advance(hours=1)
    assert await runtime.evidence.retry_pending() == 0  # stored once, not again
    assert [e.action for e in await _audit(runtime)].count("evidence.packed") == 1
    await runtime.settle()
    assert ":package: Evidence pack stored" in thread(slack, channel)[-1]
    assert "Evidence pack sha256" in str(summary_of(slack, channel)["blocks"])


async def test_a_rollback_touching_auth_config_is_flagged_for_security(
    runtime: Runtime, driver: SlackDriver, slack: SandboxSlack, channel: str
) -> None:
    await command(
        runtime,
        driver,
        channel,
        "U0ALICE",
        'configmap/api-config -n prod --severity P2 --reason "bad"',
    )
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    blocks = str(card(slack, channel)["blocks"])
    assert ":lock: *Security review*" in blocks
    assert "touches key OAUTH_ISSUER" in blocks
    assert "LOG_LEVEL" not in blocks
    opened = json.loads((await _audit(runtime))[0].body)
    assert opened["payload"]["security"] == "touches key OAUTH_ISSUER"
