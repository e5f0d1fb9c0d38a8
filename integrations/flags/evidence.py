"""A flag's readable evidence: its state in the environment and the flag service's own audit
log entries, as the service's UI shows them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.audit.readable import fields, table
from bot.ports import EvidenceWindow, ReadableEvidence


def _when(value: Any) -> str:
    """LaunchDarkly dates are Unix milliseconds."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value or "")


def flag_text(captured: Mapping[str, Any]) -> str:
    if "flag" not in captured:
        return "the capture failed: nothing was read from the flag service\n"
    env = captured.get("environment") or {}
    feature = captured.get("unleash_feature") or {}
    head = fields(
        f"Flag {captured['flag']}",
        [
            ("State", captured["state"] if isinstance(captured.get("state"), str) else None),
            ("On", env.get("on", feature.get("enabled"))),
            ("Flag version", captured.get("launchdarkly_version")),
            ("Off variation", env.get("offVariation")),
            ("Fallthrough", json.dumps(env["fallthrough"]) if "fallthrough" in env else None),
            ("Rules", len(env.get("rules") or [])),
            ("Strategies", len(feature.get("strategies") or []) if feature else None),
        ],
    )
    entries = captured.get("launchdarkly_audit_log")
    if entries is None:
        return head
    rows = [
        (
            _when(e.get("date")),
            (e.get("member") or {}).get("email", "") or "-",
            e.get("titleVerb") or e.get("title") or "",
            e.get("description") or e.get("name") or "",
            e.get("comment") or "-",
        )
        for e in entries
    ]
    heads = ("when", "who", "what", "detail", "comment")
    return f"{head}\nThe flag service's audit log (newest first)\n{table(heads, rows)}"


def readable_flag(captured: Mapping[str, Any], window: EvidenceWindow) -> ReadableEvidence:
    return ReadableEvidence(files={f"flag-{window.moment.value}.txt": flag_text(captured)})
