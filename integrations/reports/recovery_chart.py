"""A recovery chart as a PNG (matplotlib): the metric over the incident, the rollback trigger's
threshold, each moment of the rollback marked, absolute UTC times on the axis. The PNG's text
chunks repeat the title and every marked time, so a reader (or a test) can check them without
reading pixels."""

from __future__ import annotations

import io
import json
from typing import Any

from bot.domain.recovery_charts import RecoveryChart
from bot.ports import Series

MARK_COLOURS = {"incident detected": "#b00020", "rollback patch sent": "#1565c0"}


def metadata(chart: RecoveryChart, points: int) -> dict[str, str]:
    facts = {**chart.facts(), "points": points}
    return {
        "Title": chart.title,
        "Description": json.dumps(facts, sort_keys=True),
        "Software": "rollbot",
    }


def _plt() -> Any:
    # Loaded on first use: matplotlib costs a serving process some 40 MiB it rarely needs.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def recovery_png(chart: RecoveryChart, series: Series) -> bytes:
    plt = _plt()
    from matplotlib import dates

    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.set_title(chart.title, fontsize=10)
    ax.set_xlim(chart.start, chart.end)
    if series:
        ax.plot([t for t, _ in series], [v for _, v in series], color="#263238", linewidth=1.4)
        ax.axhline(
            chart.threshold,
            color="#c62828",
            linestyle="--",
            linewidth=1,
            label=chart.threshold_label,
        )
        ax.legend(loc="center right", fontsize=8)
        top = max(max(v for _, v in series), chart.threshold) * 1.15 or 1.0
        ax.set_ylim(0, top)
    else:
        ax.set_yticks([])
        ax.text(
            0.5,
            0.5,
            "no data: Prometheus returned no samples for this window",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=11,
            color="#555555",
        )
    middle = chart.start + (chart.end - chart.start) / 2
    for i, mark in enumerate(chart.marks):
        colour = MARK_COLOURS.get(
            mark.label, "#6a1b9a" if mark.label.startswith("approved") else "#2e7d32"
        )
        ax.axvline(mark.at, color=colour, linewidth=0.9, alpha=0.8)
        right = mark.at > middle  # labels in the right half run leftwards, inside the plot
        ax.annotate(
            f"{mark.label} {mark.at:%H:%M:%S}",
            xy=(mark.at, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-3 if right else 3, -10 - 11 * (i % 5)),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize=7,
            color=colour,
        )
    formatter = dates.DateFormatter("%H:%M", tz=chart.start.tzinfo)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlabel(f"time (UTC), {chart.start:%Y-%m-%d}")
    ax.set_ylabel("error ratio" if chart.unit == "ratio" else "seconds")
    out = io.BytesIO()
    fig.savefig(
        out, format="png", dpi=100, bbox_inches="tight", metadata=metadata(chart, len(series))
    )
    plt.close(fig)
    return out.getvalue()
