"""One line per figure: rollbot's number, the baseline's, their ratio and the target."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    ours: float
    baseline: float | None
    unit: str
    baseline_name: str = ""
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.ours / self.baseline  # type: ignore[operator]


def _num(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit.endswith("/s") or unit in ("requests", "commands"):
        return f"{value:,.0f} {unit}"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    return f"{value:.3g} {unit}"


def render(figures: list[Figure]) -> str:
    lines = []
    for f in figures:
        base = (
            f" | baseline ({f.baseline_name}) {_num(f.baseline, f.unit)}"
            if f.baseline is not None
            else ""
        )
        ratio = f" | ratio {f.ratio:.2f}x" if f.ratio is not None else ""
        target = f" | target {f.target}: {'met' if f.met else 'NOT met'}" if f.target else ""
        lines.append(f"{f.name}: {_num(f.ours, f.unit)}{base}{ratio}{target}")
    return "\n".join(lines)
