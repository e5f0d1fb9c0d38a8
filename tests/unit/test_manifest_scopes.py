"""manifest.yml asks for exactly the OAuth scopes the code's Slack calls need: nothing more
(a reviewer approving the app sees only what it uses), nothing less (the sandbox Slack answers
`missing_scope` for a method outside them, as Slack does)."""

from __future__ import annotations

import re
from pathlib import Path

from sandbox.slack.scopes import manifest_scopes, needed

ROOT = Path(__file__).resolve().parents[2]
CALL = re.compile(r"\.((?:chat|conversations|users|usergroups|files|views|auth)_\w+)\(")
# slack_sdk helpers that are several Web API methods
HELPERS = {"files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal")}


def _methods() -> set[str]:
    found: set[str] = set()
    for folder in ("integrations", "handlers", "rollbot", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in CALL.findall(path.read_text()):
                found.update(HELPERS.get(name) or (name.replace("_", "."),))
    return found


def test_the_manifest_asks_for_the_scopes_the_code_uses_and_no_more() -> None:
    methods = _methods()
    assert "chat.postMessage" in methods  # the scan sees the calls
    wanted = {needed(m) for m in methods} - {None}
    # conversations.info reads private channels rollbot was invited to as well
    wanted.add(needed("conversations.info", private_channel=True))
    wanted.add("commands")  # the slash command itself
    assert manifest_scopes() == wanted


def test_every_scope_line_names_the_method_that_needs_it() -> None:
    text = (ROOT / "manifest.yml").read_text()
    for scope in manifest_scopes() - {"commands"}:
        [line] = [ln for ln in text.splitlines() if ln.strip().startswith(f"- {scope} ")]
        comment = line.split("#", 1)[1]
        assert re.search(r"(chat|conversations|usergroups|files)\.\w+", comment), line
