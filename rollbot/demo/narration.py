"""What a person would see in Slack, written for a terminal: mrkdwn as plain text, entities
decoded, people by name; and each channel's news since the last look, one line a message."""

from __future__ import annotations

import html
import itertools
import re
from typing import Any

from rollbot.demo.transcript import as_shown, render_message
from sandbox.slack.state import SlackState

# Slack's emoji codes as the few marks a terminal reads at a glance; the rest are left out.
_EMOJI = {
    "warning": "!",
    "no_entry_sign": "✗",
    "white_check_mark": "✓",
    "large_green_circle": "●",
    "red_circle": "●",
    "rotating_light": "!!",
    "alarm_clock": "⏰",
}
_CARD_LINES = (
    "Severity",
    "State",
    "Revision",
    "Recommendation",
    "Automatic rollback",
    "Approvals",
    "No decision",
    "[",
)


def plain(ws: SlackState, text: str) -> str:
    """mrkdwn as a terminal shows it: `*bold*` and `_italic_` plain, links as text and address,
    mentions as names, entities decoded."""

    def link(match: re.Match[str]) -> str:
        return f"{match[2]} ({match[1]})" if match[2] else match[1]

    text = as_shown(ws, text)
    text = re.sub(r"<!subteam\^([A-Z0-9]+)>", r"@group:\1", text)
    text = re.sub(r"<(https?://[^|>]+)(?:\|([^>]*))?>", link, text)
    text = re.sub(r":([a-z0-9_+-]+):", lambda m: _EMOJI.get(m[1], ""), text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"\1", text)
    text = text.replace("```", "")
    return re.sub(r"  +", " ", html.unescape(text)).strip()


def card_lines(ws: SlackState, card: dict[str, Any]) -> list[str]:
    """The card's header and the lines an approver reads first."""
    lines = [plain(ws, part) for line in render_message(card) for part in line.splitlines()]
    kept = [lines[0].strip("= ")]
    for before, line in itertools.pairwise(lines):
        # what changes comes on the line after its heading, in the target's own terms
        if line.startswith(_CARD_LINES) or before == "What changes":
            kept.append(line)
    return kept


class News:
    """Every channel's messages and thread replies not shown yet; a reply edited in place (the
    rollout's progress) shows only its new lines."""

    def __init__(self, ws: SlackState) -> None:
        self.ws = ws
        self._shown: dict[str, int] = {}  # ts -> lines already shown

    def _fresh(self, message: dict[str, Any], lines: list[str]) -> list[str]:
        done = self._shown.get(message["ts"], 0)
        self._shown[message["ts"]] = len(lines)
        return lines[done:]

    def of(self, channel: str) -> list[str]:
        out: list[str] = []
        for message in self.ws.history(channel):
            if str(message.get("text", "")).startswith("Rollback RB-"):
                self._shown.setdefault(message["ts"], 1)  # the card is shown on its own
            else:
                first = render_message(message)[0]
                out += [f"  {line}" for line in self._fresh(message, [plain(self.ws, first)])]
            for reply in self.ws.replies(channel, message["ts"]):
                text = [plain(self.ws, t) for t in str(reply.get("text", "")).splitlines()]
                out += [f"  ↳ {line}" for line in self._fresh(reply, text)]
        return out

    def skip(self, channel: str) -> None:
        """Count what is there as seen (a scene that tells it in its own words)."""
        self.of(channel)
