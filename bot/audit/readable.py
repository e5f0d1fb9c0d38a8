"""Plain-text evidence files for people: aligned "Field: value" lines and simple tables, the
shape `kubectl describe` and the AWS console's detail pages have. Used by executors whose
platform has no describe command of its own."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def fields(title: str, rows: Iterable[tuple[str, object]]) -> str:
    """A heading, then one "Field:  value" line per row, values aligned."""
    pairs = [(k, "<none>" if v in (None, "", [], {}) else str(v)) for k, v in rows]
    width = max((len(k) for k, _ in pairs), default=0) + 2
    return "\n".join([title, *(f"{k + ':':<{width}}{v}" for k, v in pairs)]) + "\n"


def table(heads: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Columns as `kubectl get` prints them: upper-case heads, three spaces apart."""
    cells = [[str(c) for c in row] for row in rows]
    if not cells:
        return "<none>\n"
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(heads)]
    lines = ["   ".join(h.upper().ljust(w) for h, w in zip(heads, widths, strict=True))]
    lines += ["   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines) + "\n"
