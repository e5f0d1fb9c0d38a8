"""`make demo` plays the whole incident; this keeps it honest."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollbot.demo.incident import run_demo


async def test_demo_plays_a_whole_incident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROLLBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("ROLLBOT_AUDIT_KEY_FILE", str(tmp_path / "demo.key"))
    monkeypatch.setenv("ROLLBOT_EVIDENCE_DIR", str(tmp_path / "evidence"))
    await run_demo("deployment")
    out = capsys.readouterr().out
    for expected in [
        "opened for `deployment/api -n prod` in #inc-",
        "[Roll back] [Forward fix] [Emergency override] [Cancel request]",
        "you requested this rollback, so you cannot approve it",
        "P1 declared, RB-",
        "paging VP Engineering @vera",
        "@bob approved as engineering_lead",
        "Sandbox cluster http://127.0.0.1:",
        "deployment/api -n prod: revision 3, image api:1.3.0, 3/3 available",
        "live now: revision 4 (was 3), image api:1.2.3",
        "rollbot recovery verified: health check passed 1/1; smoke tests passed 1/1; metrics passed 2/2",
        ":large_green_circle: completed* · `deployment/api -n prod` · revision 3 → 4",
        "Sandbox cluster after the rollback: deployment/api -n prod: revision 4, image api:1.2.3, 3/3 available",
        "$ rollbot audit verify\n  OK: 22 entries, head ",
        "Evidence pack sha256 `",
        # an incident Alertmanager opened, and its resolution on the timeline
        "*Severity*: P3 medium — declared by Alertmanager",
        "<@alertmanager> opened the request: alert HighLatency: p95 latency 2.6x baseline",
        ":rotating_light: Alertmanager: HighLatency resolved",
        # the watch after the verified rollback, and a reminder fired by moving the clock
        "recovery re-check 1 passed: health check passed 1/1",
        ":white_check_mark: Watch window closed: recovery held for 30 minutes",
        ":alarm_clock: *Overdue*: post mortem for *RB-",
        "@alice confirmed the service works again (user validation)",
        "@bob met post mortem: https://wiki.example/pm/RB-",
        # the month's report ends it
        "$ rollbot report --month 2026-",
        "| rollback count | 1 |",
        "| incidents | 2 (P1 1, P2 0, P3 1, P4 0) |",
    ]:
        assert expected in out
    assert (tmp_path / "demo.db").exists()
    [pack] = list((tmp_path / "evidence").glob("*/evidence-*.tar.gz"))
    assert f"evidence pack {pack} sha256 " in out


async def test_the_flag_scenario_turns_a_launchdarkly_flag_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROLLBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("ROLLBOT_AUDIT_KEY_FILE", str(tmp_path / "demo.key"))
    monkeypatch.setenv("ROLLBOT_EVIDENCE_DIR", str(tmp_path / "evidence"))
    await run_demo("flag")
    out = capsys.readouterr().out
    for expected in [
        "LaunchDarkly flag new-checkout: on in production, flag version 1",
        "flag version 1: turn it off (kill switch); on true → false",
        "*Approvals* — needs devops lead",
        "@frank approved as devops_lead",
        "LaunchDarkly: `new-checkout` in production: on true → false (flag version 1 → 2)",
        "rollbot recovery verified: health check passed 1/1",
        "Sandbox LaunchDarkly after the rollback: LaunchDarkly flag new-checkout: off in production",
        "LaunchDarkly audit log: rollbot@sandbox turnFlagOff — comment 'rollbot RB-",
        "$ rollbot audit verify\n  OK: ",
    ]:
        assert expected in out
    [pack] = list((tmp_path / "evidence").glob("*/evidence-*.tar.gz"))
    assert f"evidence pack {pack} sha256 " in out


async def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(
        SystemExit, match="unknown demo scenario 'nope'; available: deployment, flag"
    ):
        await run_demo("nope")
