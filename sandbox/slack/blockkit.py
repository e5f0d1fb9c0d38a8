"""Block Kit limits Slack enforces (answering `invalid_blocks`), checked the same way here."""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID = 255
MAX_CONTEXT_ELEMENTS = 10
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
# https://api.slack.com/reference/block-kit/composition-objects#confirm and .../surfaces/views
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30
MAX_MODAL_TITLE = 24
KNOWN = {"section", "header", "context", "actions", "divider", "input", "image", "rich_text"}


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def _check_element(el: dict[str, Any], ids: set[str], problems: list[str], where: str) -> None:
    action_id = el.get("action_id")
    if action_id is not None:
        if len(action_id) > MAX_ID:
            problems.append(f"{where}: action_id longer than {MAX_ID}")
        if action_id in ids:
            problems.append(f"{where}: duplicate action_id {action_id}")
        ids.add(action_id)
    confirm = el.get("confirm")
    if isinstance(confirm, dict):
        _check_confirm(confirm, problems, where)
    if el.get("type") == "button":
        if _text_len(el.get("text")) > MAX_BUTTON_TEXT:
            problems.append(f"{where}: button text longer than {MAX_BUTTON_TEXT}")
        if len(str(el.get("value", ""))) > MAX_BUTTON_VALUE:
            problems.append(f"{where}: button value longer than {MAX_BUTTON_VALUE}")


def _check_confirm(confirm: dict[str, Any], problems: list[str], where: str) -> None:
    limits = {
        "title": MAX_CONFIRM_TITLE,
        "text": MAX_CONFIRM_TEXT,
        "confirm": MAX_CONFIRM_BUTTON,
        "deny": MAX_CONFIRM_BUTTON,
    }
    for key, limit in limits.items():
        part = confirm.get(key)
        if part is None:
            if key != "deny":
                problems.append(f"{where}: confirm dialog needs {key}")
            continue
        if key != "text" and (not isinstance(part, dict) or part.get("type") != "plain_text"):
            problems.append(f"{where}: confirm {key} must be plain_text")
        if _text_len(part) > limit:
            problems.append(f"{where}: confirm {key} longer than {limit}")


def view_problems(view: dict[str, Any]) -> list[str]:
    """A modal's own limits: title, submit and close at most 24 characters of plain text."""
    problems = []
    for key in ("title", "submit", "close"):
        part = view.get(key)
        if part is None:
            if key == "title":
                problems.append("view needs a title")
            continue
        if _text_len(part) > MAX_MODAL_TITLE:
            problems.append(f"view {key} longer than {MAX_MODAL_TITLE}")
    return problems + block_problems(view.get("blocks", []), modal=True)


def block_problems(blocks: list[dict[str, Any]], *, modal: bool = False) -> list[str]:
    problems: list[str] = []
    limit = MAX_MODAL_BLOCKS if modal else MAX_MESSAGE_BLOCKS
    if len(blocks) > limit:
        problems.append(f"{len(blocks)} blocks; at most {limit}")
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type")
        if kind not in KNOWN:
            problems.append(f"{where}: unknown block type {kind!r}")
        block_id = block.get("block_id")
        if block_id is not None:
            if len(block_id) > MAX_ID:
                problems.append(f"{where}: block_id longer than {MAX_ID}")
            if block_id in block_ids:
                problems.append(f"{where}: duplicate block_id {block_id}")
            block_ids.add(block_id)
        if kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: section needs text or fields")
            if _text_len(block.get("text")) > MAX_SECTION_TEXT:
                problems.append(f"{where}: section text longer than {MAX_SECTION_TEXT}")
            fields = block.get("fields", [])
            if len(fields) > MAX_FIELDS:
                problems.append(f"{where}: more than {MAX_FIELDS} fields")
            problems.extend(
                f"{where}: field longer than {MAX_FIELD_TEXT}"
                for f in fields
                if _text_len(f) > MAX_FIELD_TEXT
            )
            if "accessory" in block:
                _check_element(block["accessory"], action_ids, problems, where)
        elif kind == "header":
            text = block.get("text", {})
            if text.get("type") != "plain_text" or _text_len(text) > MAX_HEADER_TEXT:
                problems.append(
                    f"{where}: header needs plain_text up to {MAX_HEADER_TEXT} characters"
                )
        elif kind == "context":
            if not 0 < len(block.get("elements", [])) <= MAX_CONTEXT_ELEMENTS:
                problems.append(f"{where}: context needs 1 to {MAX_CONTEXT_ELEMENTS} elements")
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 0 < len(elements) <= 25:
                problems.append(f"{where}: actions needs 1 to 25 elements")
            for el in elements:
                _check_element(el, action_ids, problems, where)
        elif kind == "input":
            if "element" not in block or "label" not in block:
                problems.append(f"{where}: input needs label and element")
            else:
                _check_element(block["element"], action_ids, problems, where)
    return problems
