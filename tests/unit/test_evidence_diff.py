"""The evidence pack's diff: a field one capture spells as null or {} and the other leaves out
is not a change."""

from __future__ import annotations

from bot.audit.evidence_pack import json_diff


def test_blank_fields_on_one_side_only_are_not_changes() -> None:
    before = {"template": {"metadata": {"creationTimestamp": None, "labels": {"app": "api"}}}}
    after = {"template": {"metadata": {"labels": {"app": "api"}}}, "status": {}}
    assert json_diff(before, after) == "no difference\n"


def test_real_changes_and_values_that_became_blank_still_show() -> None:
    before = {"image": "api:1.3.0", "env": [{"name": "A", "value": "1"}], "note": "x"}
    after = {"image": "api:1.2.2", "env": [{"name": "A", "value": None}], "note": None}
    diff = json_diff(before, after)
    assert '-  "image": "api:1.3.0",' in diff
    assert '+  "image": "api:1.2.2",' in diff
    assert '+      "value": null' in diff
    assert '+  "note": null' in diff
