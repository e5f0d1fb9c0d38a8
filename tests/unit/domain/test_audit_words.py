"""Audit entries in words for the auditor's page."""

from __future__ import annotations

from bot.domain.audit_words import in_words


def test_a_met_obligation_says_which_who_and_the_link() -> None:
    payload = {"kind": "post_mortem", "evidence": "https://wiki.example/pm_42", "role": "anyone"}
    assert in_words("obligation.met", "dave", payload) == (
        "post-mortem recorded by dave: https://wiki.example/pm_42"
    )


def test_roles_read_as_words_and_links_and_hashes_as_given() -> None:
    assert in_words("approval.given", "bob", {"role": "engineering_lead"}) == (
        "bob approved as engineering lead"
    )
    assert in_words("evidence.packed", "rollbot", {"sha256": "ab_cd"}) == (
        "evidence pack stored, sha256 ab_cd"
    )


def test_an_unknown_obligation_kind_and_a_missing_field_still_read() -> None:
    assert in_words("obligation.met", "erin", {"kind": "new_kind", "evidence": "x"}) == (
        "new kind recorded by erin: x"
    )
    assert in_words("approval.given", "bob", {}) == "bob approved as ?"


def test_an_action_without_words_is_spelled_out() -> None:
    assert in_words("audit.key_rotated", "rollbot", {}) == "rollbot: audit key rotated"
