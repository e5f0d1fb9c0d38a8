"""The auditor's page and the charts: matplotlib PNGs, one self-contained HTML page a month."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from bot.usecases.reports import AuditorReport, summary_rows


def _png(plt: Any, figure: Any) -> bytes:
    out = io.BytesIO()
    # the title and any "no data" note ride in the PNG's text chunks too, for readers of files
    said = [t.get_text() for ax in figure.axes for t in (ax.title, *ax.texts) if t.get_text()]
    meta = {"Title": said[0] if said else "", "Description": " · ".join(said[1:])}
    figure.savefig(out, format="png", dpi=110, bbox_inches="tight", metadata=meta)
    plt.close(figure)
    return out.getvalue()


def _no_data(ax: Any, why: str) -> None:
    """Said in words: empty axes would read as a measurement of zero."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, f"no data: {why}", ha="center", va="center", transform=ax.transAxes)


def charts(auditor: AuditorReport) -> dict[str, bytes]:
    """severity.png: the month's incidents by severity; trend.png: MTTR and rollbacks, 3 months."""
    # Loaded on first use: matplotlib costs a serving process some 40 MiB it rarely needs.
    import matplotlib

    matplotlib.use("Agg")  # no screen: render to PNG only
    import matplotlib.pyplot as plt

    m = auditor.report.metrics
    fig, ax = plt.subplots(figsize=(4.5, 3))
    names = list(m.by_severity)
    ax.set_title(f"Incidents by severity, {m.month}")
    if sum(m.by_severity.values()):
        colours = ["#b00020", "#e65100", "#f9a825", "#558b2f"]
        ax.bar(names, [m.by_severity[n] for n in names], color=colours)
        ax.set_ylabel("incidents")
    else:
        _no_data(ax, f"no incidents in {m.month}")
    severity = _png(plt, fig)

    fig, ax = plt.subplots(figsize=(5.5, 3))
    ax.set_title("Three-month trend")
    trends = {t.metric: t for t in auditor.report.trends}
    months = ["two months before", "month before", m.month]
    values = (*trends["MTTR (min)"].values, *trends["rollback count"].values)
    if any(v for v in values):
        mttr = [v if v is not None else 0 for v in trends["MTTR (min)"].values]
        count = [v if v is not None else 0 for v in trends["rollback count"].values]
        ax.bar(months, mttr, color="#1565c0", label="MTTR (min)")
        ax.set_ylabel("MTTR (min)")
        twin = ax.twinx()
        twin.plot(months, count, color="#2e7d32", marker="o", label="rollbacks")
        twin.set_ylabel("rollbacks")
    else:
        _no_data(ax, "no rollbacks in these three months")
    trend = _png(plt, fig)
    return {"severity.png": severity, "trend.png": trend}


HOW_TO_VERIFY = """<h2 id="how-to-verify">How to verify this</h2>
<p>Without access to rollbot's database. The operator of rollbot hands over three things:</p>
<pre>rollbot audit export --out audit-{month}.tar.gz   # the audit log, with its signed checkpoints
rollbot audit public-key &gt; rollbot-audit.pub        # the key that signs them
# and the evidence packs (RB-…/evidence-RB-….tar.gz) with their addenda (RB-…/addenda/…)</pre>
<p>Then, on any machine with rollbot installed:</p>
<pre>rollbot audit verify --export audit-{month}.tar.gz --public-key rollbot-audit.pub
sha256sum RB-…/evidence-RB-….tar.gz     # equals the sha256 shown for the request above
rollbot evidence verify-addendum RB-…/addenda/recovery-…/addendum.json \\
  --pack RB-…/evidence-RB-….tar.gz --public-key rollbot-audit.pub</pre>
<p>The first walks the hash chain and checks every signed checkpoint with the key you were given;
the last checks that a recovery chart or post-mortem added later was signed by the same key and
belongs to that pack.</p>"""


def _row(name: str, value: str) -> str:
    key = html.escape(name.replace(" ", "-"))
    return f'<tr><th>{html.escape(name)}</th><td data-metric="{key}">{html.escape(value)}</td></tr>'


def page(auditor: AuditorReport, pictures: dict[str, bytes]) -> str:
    report = auditor.report
    m = report.metrics
    rows = "\n".join(_row(name, value) for name, value in summary_rows(report))
    targets = "\n".join(
        f"<li>{html.escape(k)}: <strong>{html.escape(v)}</strong></li>"
        for k, v in report.targets.items()
    )
    trends = "\n".join(
        f"<li>{html.escape(t.metric)}: "
        + " → ".join("—" if v is None else f"{v:g}" for v in t.values)
        + f" <em>({html.escape(t.direction)})</em></li>"
        for t in report.trends
    )
    images = "\n".join(
        f'<img alt="{html.escape(name)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
        for name, data in pictures.items()
    )
    incidents = "\n".join(_incident(d) for d in auditor.incidents) or "<p>No rollback requests.</p>"
    definitions = "\n".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in report.definitions.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>rollbot — rollback report {m.month}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 70rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }}
code {{ font-size: .85em; word-break: break-all; }}
section.incident {{ border-top: 2px solid #999; margin-top: 1.5rem; }}
</style></head>
<body>
<h1>Rollback report {m.month}</h1>
<p>Made {auditor.made_at:%Y-%m-%d %H:%M} UTC from rollbot's records.</p>
<table id="summary">
{rows}
</table>
<h2>Targets (change management guide)</h2><ul id="targets">{targets}</ul>
<h2>Three-month trend</h2><ul id="trends">{trends}</ul>
<div id="charts">{images}</div>
<h2>Incidents</h2>
{incidents}
<h2>Audit log</h2>
<p id="audit-head">Head <code>{auditor.audit_head}</code> at seq {auditor.audit_seq}; last signed
checkpoint {auditor.last_checkpoint if auditor.last_checkpoint is not None else "none"}.</p>
{HOW_TO_VERIFY.format(month=m.month)}
<footer><h2>Definitions</h2><dl>{definitions}</dl></footer>
</body></html>
"""


def _no_approvals(r: Any) -> str:
    """Why a request has no approvals, in the rule's words."""
    role = r.rules.row.auto_approve_for
    if r.auto_approved and role is not None:
        kind = r.rollback_type.value.replace("_", " ")
        who = role.value.replace("_", " ")
        return (
            f"auto-approved: the approval matrix lets the {who} ({r.requester.label}) "
            f"approve a {kind} rollback alone"
        )
    if r.override is not None:
        return "none before the emergency override; retroactive approval is owed"
    return "none: no rollback was approved (the request did not reach approval)"


def _incident(detail: object) -> str:
    from bot.usecases.reports import IncidentDetail

    assert isinstance(detail, IncidentDetail)
    r = detail.request
    approvals = (
        "".join(
            f"<li>{html.escape(a.role.value.replace('_', ' '))}: {html.escape(a.by.label)} at {a.at:%Y-%m-%d %H:%M} UTC</li>"
            for a in (*r.approvals, *r.retro_approvals)
        )
        or f"<li>{html.escape(_no_approvals(r))}</li>"
    )
    timeline = "".join(
        f"<tr><td>{at:%Y-%m-%d %H:%M:%S} UTC</td><td>{html.escape(words)}</td></tr>"
        for at, words in detail.story
    )
    evidence = (
        f"<code>{detail.evidence_sha256}</code>" if detail.evidence_sha256 else "no evidence pack"
    )
    override = (
        f"<p>Emergency override by {html.escape(r.override.by.label)}: {html.escape(r.override.reason)}</p>"
        if r.override
        else ""
    )
    charts = "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
        f"<figcaption>{html.escape(name)}: the metric over the incident, times in UTC</figcaption></figure>"
        for name, data in sorted(detail.recovery_charts.items())
    )
    if not charts:
        charts = "<p>No recovery charts: the service has no Prometheus queries in the policy, or the watch has not ended.</p>"
    return f"""<section class="incident" id="{r.id}">
<h3>{r.id} · {html.escape(r.target.label)} · {r.assessment.severity.value} · {html.escape(r.state.value)}</h3>
<p>{html.escape(r.reason)}</p>{override}
<p>Evidence pack sha256: {evidence}</p>
<h4>Approvals</h4><ul>{approvals}</ul>
<h4>Timeline</h4><table>{timeline}</table>
<h4>Recovery charts</h4>{charts}
</section>"""
