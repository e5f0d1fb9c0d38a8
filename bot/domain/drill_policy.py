"""The policy's `drills:` section: where rollbacks may be rehearsed, how fast one must be, how
recent a passing one must be for a deploy, and how often each service is tested.

The rollback standard: a rollback test in staging before every production deploy, passed under
5 minutes with no data lost (the deploy's readiness window: "T-48h" plus the deploy itself);
the change management guide: every rollback procedure tested quarterly, with its time kept."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field


class DrillPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Namespaces (Kubernetes targets) or kubeconfig contexts where a drill may run unasked.
    # None listed: drills are off, and no service is chased for one.
    environments: tuple[str, ...] = ()
    # A drill passes only if its rollback is verified within this long.
    target: timedelta = Field(default=timedelta(minutes=5), gt=timedelta(0))
    # The readiness gate accepts a passing drill this recent.
    window: timedelta = Field(default=timedelta(hours=72), gt=timedelta(0))
    # Each service is due a drill this often.
    every: timedelta = Field(default=timedelta(days=90), gt=timedelta(0))
    # A drill outside the drill environments (a game day in production). Off: refused.
    game_days: bool = False

    def is_drill_environment(self, namespace: str | None, context: str | None) -> bool:
        return any(place in self.environments for place in (namespace, context) if place)
