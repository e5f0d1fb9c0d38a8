"""Each command's help says which variables it reads, and flags show no type placeholders."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bot.config.settings import Settings, variable_name
from rollbot.cli import app


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_help_list_every_variable_they_read(command: str) -> None:
    shown = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    assert "Reads SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (required)" in text
    for field in Settings.model_fields:
        assert variable_name(Settings, field) in text, field
    assert "<bool>" not in shown.output


@pytest.mark.parametrize(
    ("args", "reads"),
    [
        (["db", "--help"], "ROLLBOT_DATABASE_URL"),
        (["requests", "--help"], "ROLLBOT_DATABASE_URL"),
        (["audit", "--help"], "ROLLBOT_AUDIT_KEY_FILE"),
        (["report", "--help"], "ROLLBOT_DATABASE_URL"),
    ],
)
def test_operator_commands_say_what_they_read(args: list[str], reads: str) -> None:
    shown = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    assert reads in shown.output
    assert "<bool>" not in shown.output
