"""The house rules that keep the code readable: no module over 400 lines and no function over
60 lines outside the tests (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("rollbot", "bot", "handlers", "integrations", "sandbox", "bench")
MAX_MODULE, MAX_FUNCTION = 400, 60


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_every_package_is_read() -> None:
    assert len(_sources()) > 100  # the rule below checks something


def test_no_module_over_400_lines_and_no_function_over_60() -> None:
    too_long: list[str] = []
    for path in _sources():
        text = path.read_text()
        name = path.relative_to(ROOT)
        if text.count("\n") > MAX_MODULE:
            too_long.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []
