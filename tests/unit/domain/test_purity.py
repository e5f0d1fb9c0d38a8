"""bot/domain imports nothing but the standard library, pydantic and itself (issue: domain core)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[3] / "bot" / "domain"
# pydantic_core is pydantic's own validation core (a role name is a validated str type)
ALLOWED = set(sys.stdlib_module_names) | {"pydantic", "pydantic_core", "__future__"}
CLOCK_READS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_domain_imports_only_stdlib_pydantic_and_itself() -> None:
    files = sorted(DOMAIN.glob("*.py"))
    assert len(files) >= 8
    offenders = {
        f"{path.name}: {name}"
        for path in files
        for name in _imports(path)
        if name.split(".")[0] not in ALLOWED and not name.startswith("bot.domain")
    }
    assert offenders == set()


def test_domain_never_reads_the_clock() -> None:
    calls = {
        f"{path.name}:{node.lineno}"
        for path in DOMAIN.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOCK_READS
    }
    assert calls == set()
