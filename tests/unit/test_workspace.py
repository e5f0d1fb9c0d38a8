"""Which bodies are for this install: team, enterprise and app, flat or nested as Slack sends
them."""

from __future__ import annotations

from handlers.http.workspace import Home, foreign

HOME = Home(team_ids=frozenset({"T0HOME", "T0ALSO"}), enterprise_id="E0HOME", app_id="A0BOT")


def test_ours_in_every_shape() -> None:
    assert foreign({"team_id": "T0HOME", "api_app_id": "A0BOT"}, HOME) is None
    assert foreign({"team": {"id": "T0ALSO"}, "enterprise": {"id": "E0HOME"}}, HOME) is None
    assert foreign({}, HOME) is None  # nothing to judge by (url_verification): Bolt decides


def test_elsewhere() -> None:
    assert foreign({"team": {"id": "T0X"}}, HOME) == "team_id T0X is not this workspace"
    assert foreign({"team_id": "T0HOME", "enterprise_id": "E0X"}, HOME) == (
        "enterprise_id E0X is not this enterprise"
    )
    assert foreign({"team_id": "T0HOME", "api_app_id": "A0X"}, HOME) == (
        "api_app_id A0X is not this app"
    )
    no_app = Home(team_ids=frozenset({"T0HOME"}))
    assert (
        foreign({"team_id": "T0HOME", "api_app_id": "A0X", "enterprise_id": "E0X"}, no_app) is None
    )
