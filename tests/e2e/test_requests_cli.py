"""`rollbot requests list | show` read what a real rollback left in the database, the way an
SRE reads `helm history`: the real command, pointed at the database the bot wrote."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.domain.targets import target_from
from handlers.slack.ids import ActionId
from rollbot.bootstrap.runtime import Runtime
from sandbox.processes import ROLLBOT, clean_env
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SandboxSlack
from tests.e2e.workflow import click, command

OLDER = 'deployment/api -n prod --to-revision 1 --severity P2 --reason "checkout 5xx"'


async def _requests(database_url: str, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        ROLLBOT,
        "requests",
        *args,
        env=clean_env(ROLLBOT_DATABASE_URL=database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_list_and_show_what_a_rollback_left(
    runtime: Runtime,
    driver: SlackDriver,
    slack: SandboxSlack,
    channel: str,
    database_url: str,
    tmp_path: Path,
) -> None:
    await command(runtime, driver, channel, "U0ALICE", OLDER)
    await click(runtime, driver, slack, channel, "U0ALICE", ActionId.CHOOSE_ROLLBACK)
    await click(runtime, driver, slack, channel, "U0BOB", ActionId.APPROVE)
    [done] = await runtime.queries.history(target_from("deployment/api", "prod"))

    code, table = await _requests(database_url, "list")
    assert code == 0, table
    lines = table.splitlines()
    assert lines[0].split() == [
        "ID",
        "STATE",
        "TARGET",
        "SEVERITY",
        "REVISION",
        "OPENED",
        "REQUESTER",
    ]
    assert len(lines) == 2
    assert lines[1].split()[:2] == [done.id, "completed"]
    assert "deployment/api -n prod" in lines[1]
    assert lines[1].split()[-1] == "alice"

    code, out = await _requests(
        database_url, "list", "--target", "deployment/api", "-n", "prod", "-o", "json"
    )
    assert code == 0, out
    assert [r["id"] for r in json.loads(out)] == [done.id]
    code, out = await _requests(database_url, "list", "--state", "proposed", "-o", "json")
    assert (code, json.loads(out)) == (0, [])
    code, out = await _requests(database_url, "list", "--state", "completed", "-o", "json")
    assert [r["id"] for r in json.loads(out)] == [done.id]

    code, shown = await _requests(database_url, "show", done.id)
    assert code == 0, shown
    assert shown.splitlines()[0] == (
        f"{done.id} · {done.state.value} · deployment/api -n prod · P2"
    )
    assert "approvals: bob (engineering_lead)" in shown
    steps = [line.split()[2] for line in shown.split("steps:\n", 1)[1].splitlines()]
    assert steps[:4] == [
        "request.opened",
        "decision.prompted",
        "decision.rollback",
        "approval.given",
    ]
    assert "execution.succeeded" in steps

    code, out = await _requests(database_url, "show", done.id, "-o", "json")
    record = json.loads(out)
    assert record["request"]["id"] == done.id
    assert [s["action"] for s in record["steps"]] == steps

    code, out = await _requests(database_url, "show", "RB-NOPE00")
    assert (code, out.strip()) == (
        3,
        "rollbot: no request RB-NOPE00: `rollbot requests list` shows them",
    )
    code, out = await _requests(database_url, "list", "--state", "done")
    assert code == 2
    assert out.strip().startswith("rollbot: --state takes one of proposed, awaiting_decision")
