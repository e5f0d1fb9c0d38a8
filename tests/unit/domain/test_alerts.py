"""Alert routing (the change management guide automatic rollback triggers arrive as alerts)."""

from __future__ import annotations

import pytest

from bot.domain.alerts import AlertRoute, route_alert, severity_from_labels
from bot.domain.severity import Severity

ROUTES = (
    AlertRoute(match={"service": "api", "env": "prod"}, target="deployment/api", namespace="prod"),
    AlertRoute(match={"service": "api"}, target="deployment/api", namespace="staging"),
    AlertRoute(match={}, target="deployment/never"),
)


def test_first_fully_matching_route_wins() -> None:
    assert route_alert({"service": "api", "env": "prod", "x": "y"}, ROUTES) == ROUTES[0]
    assert route_alert({"service": "api", "env": "dev"}, ROUTES) == ROUTES[1]
    assert route_alert({"service": "web"}, ROUTES) is None  # an empty matcher matches nothing


@pytest.mark.parametrize(
    ("label", "severity"),
    [
        ("critical", Severity.P1),
        ("page", Severity.P1),
        ("high", Severity.P2),
        ("warning", Severity.P3),
        ("info", Severity.P4),
        ("P2", Severity.P2),
        ("p1", Severity.P1),
        ("", None),
        ("whatever", None),
    ],
)
def test_severity_labels(label: str, severity: Severity | None) -> None:
    assert severity_from_labels({"severity": label}) is severity
