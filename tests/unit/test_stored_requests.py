"""How a stored Slack request names its lane: the channel it came from, else the person."""

from __future__ import annotations

import json

from handlers.slack.stored import RequestKind, StoredRequest


def _stored(kind: RequestKind, body: dict[str, object]) -> StoredRequest:
    return StoredRequest(kind=kind, body=json.dumps(body))


def test_a_command_and_a_click_in_one_channel_share_its_lane() -> None:
    command = _stored(RequestKind.COMMAND, {"channel_id": "C1", "user_id": "U1"})
    click = _stored(RequestKind.CLICK, {"channel": {"id": "C1"}, "user": {"id": "U2"}})
    assert command.where() == click.where() == "channel:C1"
    other = _stored(RequestKind.COMMAND, {"channel_id": "C2", "user_id": "U1"})
    assert other.where() == "channel:C2"


def test_a_modal_submission_goes_in_its_persons_lane() -> None:
    view = _stored(RequestKind.VIEW, {"user": {"id": "U1"}, "view": {"id": "V1"}})
    assert view.where() == "user:U1"
