"""`make demo` tells one incident as a story a person reads in a minute, and every command it
prints at the end works when pasted; `--verbose` prints everything."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from rollbot.demo.incident import run_demo

ROOT = Path(__file__).resolve().parents[2]
ROLLBOT = Path(sys.executable).parent / "rollbot"
LEFT = (
    "rollbot-demo.db",
    "rollbot-demo-audit.key",
    "rollbot-demo-evidence",
    "rollbot-demo-report.html",
)


async def _shell(cwd: Path, *argv: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLBOT_")}
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=240)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _serves_the_workspace(cwd: Path, command: str) -> None:
    """`rollbot try`, pasted as printed (without opening a browser here), serves the page."""
    import aiohttp

    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLBOT_")}
    proc = await asyncio.create_subprocess_exec(
        *command.split(), "--no-open", cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=120)).decode()
        assert line.startswith("rollbot try: open http://127.0.0.1:"), line
        url = line.split("open ", 1)[1].split()[0]
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert resp.status == 200
            assert "rollbot sandbox" in await resp.text()
    finally:
        proc.terminate()
        await proc.wait()


async def test_the_demo_is_one_story_and_its_commands_work_when_pasted(tmp_path: Path) -> None:
    code, out = await _shell(tmp_path, str(ROLLBOT), "demo")
    assert code == 0, out
    lines = out.splitlines()
    assert len(lines) <= 120
    for expected in [
        "1. api 1.3.0 fails. alice asks for a rollback in #general",
        '(only alice sees) ! say why: --reason "what is broken"',
        "│ revision 3 → 2: image api:1.3.0 → api:1.2.3",
        "✗ you requested this rollback, so you cannot approve it; it needs: engineering lead",
        "@bob approved as engineering lead",
        "live now: revision 4 (was 3), image api:1.2.3",
        "Kubernetes gives the restored template of revision 2 a new revision number, 4",
        "Severity: P3 medium — declared by Alertmanager",
        "@dave chose a forward fix",
        "30 minutes pass (simulated: rollbot's clock now reads",
        "✓ Watch window closed: recovery held for 30 minutes",
        "Recovery charts added to the evidence pack as a signed addendum",
        "48 hours pass (simulated",
        "Overdue: post mortem for RB-",
        "@bob recorded the post-mortem: https://wiki.example/pm/RB-",
        "8. The audit log verifies: OK: ",
    ]:
        assert expected in out
    for markup in ("*Severity*", "&lt;", "&gt;", "<@", ":rotating_light:", "[info", "```"):
        assert markup not in out  # mrkdwn, entities, raw mentions and log lines stay out

    # the commands it ends with, pasted as printed into a shell in the same directory
    commands = [line.removeprefix("  $ ") for line in lines if line.startswith("  $ ")]
    assert [c.split()[0] for c in commands][:1] == ["export"]
    *commands, workspace = commands
    assert workspace.endswith(" try")  # runs until stopped: started on its own below
    assert any(" audit verify" in c for c in commands)
    assert any(" evidence verify-addendum " in c for c in commands)
    (tmp_path / "pasted.sh").write_text("set -e\n" + "\n".join(commands) + "\n")
    code, pasted = await _shell(tmp_path, "bash", "pasted.sh")
    assert code == 0, pasted
    assert "OK: " in pasted  # audit verify, on the demo's own database and key
    assert "state: completed" in pasted or "completed" in pasted  # requests show
    assert "manifest.json" in pasted  # the pack's listing
    assert "verified: the recovery addendum of RB-" in pasted
    await _serves_the_workspace(tmp_path, workspace)
    readme = (ROOT / "README.md").read_text()
    for name in LEFT:  # what it leaves is there and README says so
        assert (tmp_path / name).exists()
        assert name in readme


async def test_verbose_prints_every_card_and_the_whole_channels(tmp_path: Path) -> None:
    code, out = await _shell(tmp_path, str(ROLLBOT), "demo", "--verbose")
    assert code == 0, out
    assert len(out.splitlines()) > 200
    for expected in [
        "[Roll back] [Forward fix] [Emergency override] [Cancel request]",
        "P1 declared, RB-",
        "database sqlite+aiosqlite:///rollbot-demo.db",
        "#inc-",  # the channel transcripts
        "| rollback count | 1 |",
        "| incidents | 2 (P1 1, P2 0, P3 1, P4 0) |",
        "request.opened",  # log lines
    ]:
        assert expected in out


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo's database, audit key and evidence in the test's own folder."""
    monkeypatch.setenv("ROLLBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("ROLLBOT_AUDIT_KEY_FILE", str(tmp_path / "demo.key"))
    monkeypatch.setenv("ROLLBOT_EVIDENCE_DIR", str(tmp_path / "evidence"))
    return tmp_path


async def test_the_flag_scenario_turns_a_launchdarkly_flag_off(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_demo("flag")
    out = capsys.readouterr().out
    for expected in [
        "LaunchDarkly flag new-checkout: on in production, flag version 1",
        "flag version 1: turn it off (kill switch); on true → false",
        "@frank approved as devops lead",
        "LaunchDarkly: `new-checkout` in production: on true → false (flag version 1 → 2)",
        "rollbot recovery verified: health check passed 1/1",
        "Sandbox LaunchDarkly after the rollback: LaunchDarkly flag new-checkout: off in production",
        "LaunchDarkly audit log: rollbot@sandbox turnFlagOff — comment 'rollbot RB-",
        "8. The audit log verifies: OK: ",
    ]:
        assert expected in out
    [pack] = list((in_tmp / "evidence").glob("*/evidence-*.tar.gz"))
    assert f"Evidence pack {pack}, sha256 " in out


async def test_the_drill_scenario_rehearses_a_rollback_and_opens_the_gate(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_demo("drill")
    out = capsys.readouterr().out
    before, _, after = out.partition("The gate again")
    assert "deployment/api -n prod NOT ready to deploy api:1.3.0" in before
    assert "NO  no drill has rolled deployment/api back from api:1.3.0" in before
    assert "live now: revision 3 (was 2), image api:1.2.3" in before
    assert "live now: revision 4 (was 3), image api:1.3.0" in before
    assert ": passed\n" in before
    assert "deployment/api -n prod ready to deploy api:1.3.0" in after
    [drill] = list((in_tmp / "evidence" / "drills").iterdir())
    assert f"ok  drill {drill.name} in staging passed at" in after


@pytest.mark.postgres
async def test_the_database_scenario_rolls_the_schema_back_with_a_dbas_evidence(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_demo("database")
    out = capsys.readouterr().out
    for expected in [
        "Before: database shop: migration 0003_drop_note; orders(id, item, discount)",
        "Expected data loss: table `coupons` (2 rows); column `orders.discount` (3 rows with a value)",
        "-- Running downgrade 0002_discount -> 0001_orders",
        "@carol approved as dba",
        "step 3 of 4 (downgrade) done",
        "After: database shop: migration 0001_orders; orders(id, item, note)",
        '"sql_preview_matches_run": true',
        "8. The audit log verifies: OK: ",
    ]:
        assert expected in out
    [dump] = list((in_tmp / "evidence").glob("*/database/shop-0003_drop_note.dump"))
    assert dump.read_bytes().startswith(b"PGDMP")


async def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(
        SystemExit,
        match="unknown demo scenario 'nope'; available: deployment, flag, drill, database",
    ):
        await run_demo("nope")
