"""Database migration rollbacks, as the runbook orders them: full backup first, the schema and
exact row counts, the downgrade in a Kubernetes Job running the newer image (the older image
lacks the newer migration's downgrade script), then the schema check. A failed step stops the
plan: nothing after it runs, and the message names the step and where the database stands.

The record of the run is written to the evidence store after every step, so a process that
takes the rollback over follows the downgrade Job already created instead of starting another."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any, Protocol

from bot.domain.database_policy import DatabasePolicy
from bot.domain.database_rollback import (
    DatabasePlan,
    DatabaseStep,
    dropped_by,
    expected_loss,
    plan_summary,
)
from bot.domain.request import RollbackRequest, TargetRef
from bot.domain.targets import BACKUP_PREFIX
from bot.ports import (
    AdapterError,
    CaptureMoment,
    Clock,
    EvidenceStore,
    EvidenceStoreError,
    EvidenceWindow,
    ExecutionError,
    ExecutionResult,
    Fence,
    Jobs,
    JobSpec,
    NothingChangedError,
    Preflight,
    Progress,
    ReadableEvidence,
    SystemClock,
    TargetUnavailableError,
    UnknownTargetError,
)
from integrations.database.alembic import Alembic, MigrationTool, failure_of, unknown_revision
from integrations.database.postgres import Dsn, PostgresDatabase
from integrations.database.restore import Restorer
from integrations.database.run_record import Backup, DatabaseRun
from integrations.database.steps import RunSteps


class BackupStore(EvidenceStore, Protocol):
    async def free_bytes(self) -> int | None:
        """Room left for a backup; None where there is no limit to speak of (S3)."""
        ...


def job_name(request_id: str, what: str) -> str:
    return f"rollbot-{what}-{request_id.lower()}"[:63]


class DatabaseExecutor:
    def __init__(
        self,
        databases: Mapping[str, DatabasePolicy],
        jobs: Jobs,
        store: BackupStore,
        *,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        tool: MigrationTool | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._databases = databases
        self._jobs = jobs
        self._store = store
        self._env = os.environ if env is None else env
        self._clock = clock or SystemClock()
        self._tool = tool or Alembic()
        self._timeout = timeout
        self._steps = RunSteps(store, self._clock, self._where)
        self._restorer = Restorer(jobs, store, self._steps)
        # previews already printed, by (database, from, to, image): planning and the check
        # right before execution ask for the same one, and it never changes
        self._previews: dict[tuple[str, str, str, str], str] = {}

    def _policy(self, target: TargetRef) -> DatabasePolicy:
        found = self._databases.get(target.name)
        if found is None:
            raise UnknownTargetError(
                f"no database `{target.name}` in the policy: declare it under `databases:`"
            )
        return found

    def _db(self, target: TargetRef, *, readonly: bool = False) -> PostgresDatabase:
        p = self._policy(target)
        var = (p.readonly_dsn_env or p.dsn_env) if readonly else p.dsn_env
        url = self._env.get(var)
        if not url:
            raise TargetUnavailableError(
                f"{var} is not set: rollbot needs the DSN of database `{target.name}` there"
            )
        return PostgresDatabase(Dsn.parse(url), timeout=self._timeout)

    async def live_revision(self, target: TargetRef) -> str | None:
        return await self._db(target, readonly=True).migration(self._tool.version_table)

    async def _image(self, p: DatabasePolicy) -> str:
        return await self._jobs.image_of(p.namespace, p.deployments[0], p.container)

    async def _preview(self, target: TargetRef, live: str, to: str, image: str, name: str) -> str:
        key = (target.name, live, to, image)
        if key in self._previews:  # the same range in the same image prints the same SQL
            return self._previews[key]
        p = self._policy(target)
        command = self._tool.preview_command(p.config_file, live, to)
        run = await self._jobs.run(self._job(target, name, image, command))
        if run.succeeded:
            preview = self._tool.preview_sql(run.log)
            self._previews = {**dict(list(self._previews.items())[-31:]), key: preview}
            return preview
        if unknown_revision(run.log):
            raise UnknownTargetError(
                f"migration `{to}` is not in the history of {image} (`alembic history` lists it)"
            )
        raise TargetUnavailableError(
            f"the SQL preview Job {name} failed ({run.outcome}): {failure_of(run.log)}"
        )

    async def _backup_exists(self, target: TargetRef, p: DatabasePolicy) -> None:
        """The runbook's "verify the pre-deployment backup exists", when the policy says where."""
        if p.backup_location is None:
            return
        prefix = p.backup_location.rstrip("/") + "/"
        if not await self._store.names(prefix):
            raise TargetUnavailableError(
                f"no pre-deployment backup of `{target.name}` under {prefix} in the evidence "
                "store: take one before rolling the schema back"
            )

    async def preflight(
        self, target: TargetRef, to_revision: str | None, to_migration: str | None = None
    ) -> Preflight:
        p = self._policy(target)
        if to_revision is not None and to_revision.startswith(BACKUP_PREFIX):
            request_id = to_revision.removeprefix(BACKUP_PREFIX)
            return await self._restorer.preflight(target, p, self._db(target), request_id)
        if to_revision is None:
            raise UnknownTargetError("say which migration to downgrade to: --to-migration REV")
        db = self._db(target, readonly=True)
        live = await db.migration(self._tool.version_table)
        if live == to_revision:
            raise UnknownTargetError(
                f"database `{target.name}` is already at migration {live}: nothing to roll back"
            )
        await self._backup_exists(target, p)
        image = await self._image(p)
        token = hashlib.sha256(f"{live}:{to_revision}:{self._clock.now()}".encode()).hexdigest()
        preview = await self._preview(target, live, to_revision, image, f"rollbot-sql-{token[:10]}")
        dropped = dropped_by(preview)
        columns = [(d.table, d.column) for d in dropped if d.column]
        losses = expected_loss(dropped, await db.row_counts(), await db.values_in(columns))
        return Preflight(
            live_revision=live,
            to_revision=to_revision,
            database=DatabasePlan(
                database=target.name, from_migration=live, to_migration=to_revision
            ),
            summary=plan_summary(target.name, live, to_revision, losses, preview, image),
            changes=(
                f"database {target.name}: migration {live} → {to_revision}",
                *(f"drops {loss.said}" for loss in losses),
            ),
        )

    # --- execution -------------------------------------------------------------------------

    async def _where(self, run: DatabaseRun) -> str:
        try:
            found = await self.live_revision(TargetRef(kind="database", name=run.database))
            return found or "base"
        except AdapterError as exc:
            return f"unknown (could not read it: {exc})"

    async def _backup(self, target: TargetRef, p: DatabasePolicy, run: DatabaseRun) -> None:
        db = self._db(target)
        needed, room = await db.size(), await self._store.free_bytes()
        if room is not None and room < needed:
            raise TargetUnavailableError(
                f"the evidence store has {room} bytes free and the backup needs about {needed}"
            )
        data = await db.backup(p.backup_timeout.total_seconds())
        folder, file = f"{run.request_id}/database", f"{target.name}-{run.from_migration}.dump"
        try:
            await self._store.put(f"{folder}/{file}", data)
        except EvidenceStoreError as exc:
            raise TargetUnavailableError(f"the backup could not be stored: {exc}") from None
        digest = hashlib.sha256(data).hexdigest()
        run.backup = Backup(folder=folder, file=file, sha256=digest, bytes=len(data))

    async def _snapshot(self, target: TargetRef, run: DatabaseRun, *, after: bool) -> None:
        db = self._db(target, readonly=True)
        schema = await db.schema()
        rows = await db.row_counts()
        columns = [(d.table, d.column) for d in dropped_by(run.preview or "") if d.column]
        values = await db.values_in(columns) if columns else {}
        if after:
            run.schema_after, run.rows_after, run.values_after = schema, rows, values
        else:
            run.schema_before, run.rows_before, run.values_before = schema, rows, values

    def _job(
        self, target: TargetRef, name: str, image: str, command: tuple[str, ...], **labels: str
    ) -> JobSpec:
        """A Job of the database's migration tool: its DSN from the policy's Secret."""
        p = self._policy(target)
        return JobSpec(
            namespace=p.namespace,
            name=name,
            image=image,
            command=command,
            secret_env=(("DATABASE_URL", p.dsn_secret.name, p.dsn_secret.key),),
            deadline_seconds=int(p.job_timeout.total_seconds()),
            labels={"rollbot.dev/database": target.name, **labels},
        )

    def _downgrade_spec(self, target: TargetRef, run: DatabaseRun) -> JobSpec:
        config = self._policy(target).config_file
        command = self._tool.downgrade_command(config, run.to_migration)
        name = job_name(run.request_id, "downgrade")
        request = {"rollbot.dev/request": run.request_id}
        return self._job(target, name, run.image or "", command, **request)

    async def _downgrade(self, target: TargetRef, run: DatabaseRun, fence: Fence | None) -> None:
        spec = self._downgrade_spec(target, run)
        run.job = spec.name
        if fence is None:  # taking over: follow the Job the first process created
            found = await self._jobs.follow(spec.namespace, spec.name, spec.deadline_seconds)
            if found is None:
                raise ExecutionError(f"the downgrade Job {spec.name} is gone")
            job = found
        else:
            await fence()
            job = await self._jobs.run(spec)
        run.job_log = job.log
        run.ran = self._tool.statements_run(job.log)
        if not job.succeeded:
            raise ExecutionError(f"Job {job.name} {job.outcome}: {failure_of(job.log)}")

    async def _check(self, target: TargetRef, run: DatabaseRun) -> None:
        at = await self.live_revision(target)
        if at != run.to_migration:
            raise ExecutionError(f"the database is at migration {at}, not {run.to_migration}")
        await self._snapshot(target, run, after=True)

    async def _finish(
        self, target: TargetRef, run: DatabaseRun, progress: Progress, fence: Fence | None
    ) -> ExecutionResult:
        await self._steps.step(
            run, DatabaseStep.DOWNGRADE, progress, lambda: self._downgrade(target, run, fence)
        )
        await self._steps.step(run, DatabaseStep.CHECK, progress, lambda: self._check(target, run))
        return ExecutionResult(
            from_revision=run.from_migration,
            to_revision=run.to_migration,
            detail=f"database `{target.name}` downgraded from migration {run.from_migration} to "
            f"{run.to_migration}; rows lost (measured): {run.lost_said()}",
        )

    @staticmethod
    def _new_run(request: RollbackRequest) -> tuple[TargetRef, DatabaseRun]:
        """The database and its migrations as the approved plan names them."""
        plan = request.database_plan or DatabasePlan(
            database=request.target.name,
            from_migration=request.baseline_revision or "?",
            to_migration=request.to_revision or "?",
        )
        run = DatabaseRun(
            request_id=request.id,
            database=plan.database,
            from_migration=plan.from_migration,
            to_migration=plan.to_migration,
        )
        return TargetRef(kind="database", name=plan.database), run

    async def execute(
        self, request: RollbackRequest, progress: Progress, fence: Fence
    ) -> ExecutionResult:
        target, run = self._new_run(request)
        p = self._policy(target)
        if request.database_plan is not None and request.database_plan.restore_from:
            return await self._restorer.execute(request, p, self._db(target), progress, fence)

        async def plan() -> None:
            run.image = await self._image(p)
            name = job_name(request.id, "sql")
            run.preview = await self._preview(
                target, run.from_migration, run.to_migration, run.image, name
            )
            await self._backup(target, p, run)

        await self._steps.step(run, DatabaseStep.BACKUP, progress, plan)
        await self._steps.step(
            run, DatabaseStep.SNAPSHOT, progress, lambda: self._snapshot(target, run, after=False)
        )
        return await self._finish(target, run, progress, fence)

    async def resume(
        self, request: RollbackRequest, progress: Progress, fence: Fence | None = None
    ) -> ExecutionResult:
        """Another process started this rollback: follow its downgrade Job; never start one.
        No Job yet means nothing changed the database (a backup changes nothing)."""
        target, fresh = self._new_run(request)
        if request.database_plan is not None and request.database_plan.restore_from:
            if await self._steps.load(request.id) is None:
                raise NothingChangedError(f"the restore of `{target.name}` had not started")
            raise ExecutionError(
                f"the restore of `{target.name}` was under way in a process that stopped; "
                "rollbot never restores twice by itself: check the database and the "
                "application's replicas, then request the restore again if it is still needed"
            )
        name = job_name(request.id, "downgrade")
        if not await self._jobs.exists(self._policy(target).namespace, name):
            live = await self.live_revision(target)
            raise NothingChangedError(
                f"database `{target.name}` is at migration {live} and no downgrade Job was "
                "started for this rollback"
            )
        run = await self._steps.load(request.id) or fresh
        await progress(f"following the downgrade Job {name} that was already started")
        return await self._finish(target, run, progress, None)

    # --- evidence --------------------------------------------------------------------------

    async def capture(self, target: TargetRef) -> dict[str, Any]:
        db = self._db(target, readonly=True)
        schema = await db.schema()
        return {
            "database": target.name,
            "migration": await db.migration(self._tool.version_table),
            "row_counts": await db.row_counts(),
            "schema_sha256": hashlib.sha256(schema.encode()).hexdigest(),
        }

    async def readable(
        self, target: TargetRef, captured: Mapping[str, Any], window: EvidenceWindow
    ) -> ReadableEvidence:
        if window.request_id is None or window.moment is CaptureMoment.BEFORE:
            return ReadableEvidence()  # the steps' own record is written as they run
        run = await self._steps.load(window.request_id)
        if run is None:
            return ReadableEvidence(gaps=("no record of the database steps was stored",))
        return ReadableEvidence(files=run.files())
