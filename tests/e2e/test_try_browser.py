"""`rollbot try` clicked through in headless Chromium: a person types /rollback, the requester's
own approval is refused and shown only to her, the engineering lead approves, the rollback runs
on the sandbox cluster and the side panel shows the old image, and the thread tells the whole
story. Every click is the page's own button, sending the signed payload Slack would."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from rollbot.try_it import try_world
from tests.e2e.browser import Browser

COMMAND = (
    '/rollback deployment/api -n prod --to-revision 2 --severity P1 --reason "5xx since 1.3.0"'
)


def _has_text(selector: str, text: str) -> str:
    return f"[...document.querySelectorAll({json.dumps(selector)})].some(e => e.innerText.includes({json.dumps(text)}))"


def _click(selector: str) -> str:
    return f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false; e.click(); return true; }})()"


async def _click_button(browser: Browser, action_id: str, what: str) -> None:
    selector = f'#messages button[data-action-id="{action_id}"]'
    await browser.until(_click(selector), what)
    # approving is confirmed first, in the page's own dialog, as Slack asks
    if await browser.run("document.getElementById('confirm') !== null"):
        await browser.run(_click("#confirm-yes"))


async def test_a_whole_incident_clicked_through_in_the_browser(tmp_path: Path) -> None:
    async with try_world(tmp_path / "world") as world, Browser(tmp_path / "profile") as browser:
        await browser.goto(world.url + "?user=U0ALICE")
        await browser.until(_has_text("#cluster", "api:1.3.0"), "the cluster panel")
        await browser.until(_has_text("#channels a", "general"), "the channel list")
        await browser.run(
            f"document.getElementById('composer').value = {json.dumps(COMMAND)};"
            "document.getElementById('send').click(); true"
        )
        await browser.until(_has_text(".private", "opened for"), "alice's private reply")
        await browser.until(
            _click('#channels a[data-channel-name^="inc-"]'), "the incident channel"
        )
        await browser.until(_has_text("#messages", "awaiting decision"), "the request card")
        await _click_button(browser, "rollback.choose_rollback", "the Roll back button")
        await browser.until(
            _has_text("#messages", "awaiting approval"), "the card waiting for approval"
        )

        await _click_button(browser, "rollback.approve", "the Approve button")
        refused = "you requested this rollback, so you cannot approve it"
        await browser.until(_has_text(".private", refused), "the refusal, to alice")
        # bob sees the same channel without alice's private reply
        await browser.run(
            "const p = document.getElementById('person'); p.value = 'U0BOB';"
            "p.dispatchEvent(new Event('change')); true"
        )
        await browser.until(
            f"!({_has_text('.private', refused)}) && document.getElementById('person').value === 'U0BOB'",
            "bob's view",
        )
        await _click_button(browser, "rollback.approve", "the Approve button, for bob")

        await browser.until(
            _has_text("#cluster", "api:1.2.3"), "the old image on the cluster", seconds=90
        )
        await browser.until(
            _has_text(".thread", "recovery verified"), "verification in the thread", seconds=90
        )
        await browser.until(
            _has_text(".thread", "Evidence pack stored"), "the evidence pack", seconds=60
        )
        thread = await browser.run("document.querySelector('.thread').innerText")
        for step in (
            "@alice chose to roll back",
            "@bob approved as engineering lead",
            "started the rollback",
            "live now: revision 4 (was 3), image api:1.2.3",
            "rolled back to revision 4",
            "recovery verified",
        ):
            assert step in thread
        assert thread.index("approved as engineering lead") < thread.index("started the rollback")
        assert refused not in await browser.run("document.body.innerText")  # alice's, not bob's
        audit = await browser.run("document.getElementById('audit-head').innerText")
        assert audit.startswith("seq ")

        shot = tmp_path / "try-incident.png"
        await browser.screenshot(shot)

        # /rollback alone opens the form, for the person who typed it, as a modal on the page
        await browser.run(
            "document.getElementById('composer').value = '/rollback';"
            "document.getElementById('send').click(); true"
        )
        await browser.until(_has_text("#modal", "Request a rollback"), "the rollback form")
        labels = await browser.run(
            "[...document.querySelectorAll('#modal label')].map(l => l.innerText)"
        )
        assert len(labels) >= 4
        await browser.run(_click("#modal-submit"))  # nothing filled in: Slack's errors, in place
        await browser.until("document.querySelector('#modal .error') !== null", "the form's errors")
        await browser.run(_click("#modal-close"))
        await browser.until("document.getElementById('modal') === null", "the form closed")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("ROLLBOT_KEEP_SCREENSHOT")
    if keep:  # for a person to look at: ROLLBOT_KEEP_SCREENSHOT=path make test
        shutil.copy(shot, Path(keep).with_name("try-incident.png"))
