"""Alert routing: which target an Alertmanager alert is about, and how severe it is."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.domain.severity import Severity

# Alertmanager's customary `severity` label values, mapped to our classes.
SEVERITY_LABELS = {
    "critical": Severity.P1,
    "page": Severity.P1,
    "high": Severity.P2,
    "error": Severity.P2,
    "warning": Severity.P3,
    "info": Severity.P4,
}


class AlertRoute(BaseModel):
    """Alerts whose labels include all of `match` are about `target` (kind/name) in `namespace`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match: dict[str, str]
    target: str
    namespace: str | None = None


def route_alert(labels: dict[str, str], routes: tuple[AlertRoute, ...]) -> AlertRoute | None:
    """The first route whose every matcher the labels satisfy."""
    return next(
        (r for r in routes if r.match and all(labels.get(k) == v for k, v in r.match.items())), None
    )


def severity_from_labels(labels: dict[str, str]) -> Severity | None:
    value = labels.get("severity", "").strip().lower()
    if value.upper() in {s.value for s in Severity}:
        return Severity(value.upper())
    return SEVERITY_LABELS.get(value)
