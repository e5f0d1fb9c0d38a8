"""An incident: what the requests of one incident channel belong to."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from bot.domain.request import TargetRef


class Incident(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    channel_id: str
    title: str
    severity: str
    opened_at: datetime
    opened_by: str


INCIDENT_PREFIX = "inc-"


def incident_channel_name(target: TargetRef, now: datetime) -> str:
    """`inc-YYYYMMDD-<target>`, within Slack's channel-name rules (lower case, 80 characters)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", target.name.lower()).strip("-") or "target"
    return f"{INCIDENT_PREFIX}{now:%Y%m%d}-{slug}"[:80]


def is_incident_channel(channel_name: str) -> bool:
    return channel_name.startswith(INCIDENT_PREFIX)
