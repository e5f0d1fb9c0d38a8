"""Product text speaks to its users: no help, card, report, doc or CLI line outside the tests
names our source documents by internal number ("seed 001"), cites sections of documents the
user does not have (§), or points to a path outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (
    "rollbot",
    "bot",
    "handlers",
    "integrations",
    "sandbox",
    "bench",
    "deploy",
    "docs",
    "examples",
)
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".json", ".html", ".mako", ".txt"}
FORBIDDEN = re.compile(r"\bseeds?\b|§|\.\./shared|/work/", re.IGNORECASE)


def _shipped() -> list[Path]:
    files = [p for d in SHIPPED for p in (ROOT / d).rglob("*") if p.suffix in SUFFIXES]
    return sorted([*files, ROOT / "README.md", ROOT / "Makefile", ROOT / "manifest.yml"])


def test_the_check_reads_the_shipped_files() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _shipped()}
    assert {"README.md", "docs/governance.md", "bot/domain/policy.py"} <= names
    assert FORBIDDEN.search("see seed 001 §2")  # the pattern itself finds what it must


def test_no_internal_shorthand_or_outside_path_in_product_text() -> None:
    found = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in _shipped()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert found == []
