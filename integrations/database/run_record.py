"""What one database rollback did, step by step, kept in the evidence store as it goes: the
record a process that takes the rollback over continues from, and the files a DBA signs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from bot.domain.database_rollback import DatabaseStep, RestoreStep, row_changes, schema_diff
from integrations.database.alembic import preview_drift


class StepTime(BaseModel):
    step: DatabaseStep | RestoreStep
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str = "running"

    @property
    def seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at).total_seconds(), 3)


class Backup(BaseModel):
    """Where the backup is in the evidence store, beside the pack: its folder and file kept
    apart, so that evidence redaction never mistakes the whole path for a token."""

    folder: str
    file: str
    sha256: str
    bytes: int


class DatabaseRun(BaseModel):
    # a downgrade, or a restore of an earlier rollback's backup
    kind: Literal["downgrade", "restore"] = "downgrade"
    request_id: str
    database: str
    from_migration: str
    to_migration: str
    image: str | None = None
    job: str | None = None
    steps: list[StepTime] = Field(default_factory=list)
    backup: Backup | None = None
    schema_before: str | None = None
    schema_after: str | None = None
    rows_before: dict[str, int] = Field(default_factory=dict)
    rows_after: dict[str, int] = Field(default_factory=dict)
    # rows holding a value, before and after, in each column the downgrade drops
    values_before: dict[str, int] = Field(default_factory=dict)
    values_after: dict[str, int] = Field(default_factory=dict)
    preview: str | None = None
    job_log: str | None = None
    ran: list[str] = Field(default_factory=list)
    version_table: str = "alembic_version"
    # a restore: the rollback whose backup it put back, and the Deployments it scaled down
    # (with the replicas each ran before)
    restore_from: str | None = None
    scaled: dict[str, int] = Field(default_factory=dict)

    @staticmethod
    def name_for(request_id: str) -> str:
        return f"{request_id}/database/run.json"

    def started(self, step: DatabaseStep | RestoreStep, at: datetime) -> StepTime:
        timed = StepTime(step=step, started_at=at)
        self.steps = [s for s in self.steps if s.step is not step] + [timed]
        return timed

    def step(self, step: DatabaseStep | RestoreStep) -> StepTime | None:
        return next((s for s in self.steps if s.step is step), None)

    def measured_loss(self) -> dict[str, int]:
        """Rows gone after the downgrade: whole tables, and values of dropped columns."""
        lost = {}
        for table, was in self.rows_before.items():
            now = self.rows_after.get(table, 0)
            if now < was:
                lost[table] = was - now
        for column, was in self.values_before.items():
            now = self.values_after.get(column, 0)
            if now < was:
                lost[column] = was - now
        return lost

    def lost_said(self) -> str:
        lost = self.measured_loss()
        return ", ".join(f"{k}: {v}" for k, v in sorted(lost.items())) or "none"

    def downtime(self) -> float | None:
        """A downgrade: the schema changed under the application while its Job ran. A
        restore: the application was scaled down from the first step to the last."""
        if self.kind == "downgrade":
            downgrade = self.step(DatabaseStep.DOWNGRADE)
            return downgrade.seconds if downgrade else None
        down, up = self.step(RestoreStep.SCALE_DOWN), self.step(RestoreStep.SCALE_UP)
        if down is None or up is None or up.ended_at is None:
            return None
        return round((up.ended_at - down.started_at).total_seconds(), 3)

    def summary(self) -> dict[str, object]:
        """The runbook's database fields for the manifest, all measured."""
        not_run, unplanned = preview_drift(self.preview or "", self.ran, self.version_table)
        ended = [s.ended_at for s in self.steps if s.ended_at is not None]
        return {
            "database": self.database,
            "migration_reverted": {"from": self.from_migration, "to": self.to_migration},
            "backup": self.backup.model_dump() if self.backup else None,
            "data_loss": {
                "rows_lost": self.measured_loss(),
                "row_changes": list(row_changes(self.rows_before, self.rows_after)),
            },
            "downtime_seconds": self.downtime(),
            "restored_from": self.restore_from,
            "duration_seconds": round((max(ended) - self.steps[0].started_at).total_seconds(), 3)
            if ended and self.steps
            else None,
            "steps": [
                {"step": s.step.value, "outcome": s.outcome, "seconds": s.seconds}
                for s in self.steps
            ],
            "downgrade_job": self.job,
            "image": self.image,
            "sql_preview_matches_run": not (not_run or unplanned) if self.ran else None,
            "previewed_not_run": not_run,
            "run_not_previewed": unplanned,
        }

    def files(self) -> dict[str, str]:
        """The pack's database files, by name."""
        found = {"database-rollback.json": json.dumps(self.summary(), indent=2, default=str)}
        if self.schema_before is not None:
            found["schema-before.sql"] = self.schema_before
        if self.schema_after is not None:
            found["schema-after.sql"] = self.schema_after
        if self.schema_before is not None and self.schema_after is not None:
            found["schema.diff"] = schema_diff(self.schema_before, self.schema_after)
        counts = {"before": self.rows_before, "after": self.rows_after}
        found["row-counts.json"] = json.dumps(counts, indent=2, sort_keys=True)
        if self.preview is not None:
            found["downgrade-preview.sql"] = self.preview
        if self.job_log is not None:
            found["downgrade-job.log"] = self.job_log
        return found
