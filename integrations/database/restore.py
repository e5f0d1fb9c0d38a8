"""Restoring a database from the backup an earlier rollback took: the application scaled down
first (nothing writes while the data is put back), exact row counts, `pg_restore --clean` in one
transaction after the backup's sha256 is checked, the migration and counts compared, and the
application scaled back up. What was written between the backup and the restore is measured
and recorded as lost."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.domain.database_policy import DatabasePolicy
from bot.domain.database_rollback import (
    DatabasePlan,
    DatabaseStep,
    RestoreStep,
    restore_summary,
    written_since,
)
from bot.domain.request import RollbackRequest, TargetRef
from bot.ports import (
    EvidenceStore,
    ExecutionError,
    ExecutionResult,
    Fence,
    Jobs,
    Preflight,
    Progress,
    TargetUnavailableError,
    UnknownTargetError,
)
from integrations.database.postgres import PostgresDatabase
from integrations.database.run_record import DatabaseRun
from integrations.database.steps import RunSteps


class Restorer:
    def __init__(self, jobs: Jobs, store: EvidenceStore, steps: RunSteps) -> None:
        self.jobs = jobs
        self._store = store
        self._steps = steps

    async def backup_of(self, target: TargetRef, request_id: str) -> tuple[DatabaseRun, bytes]:
        """The earlier rollback's record and its backup, its sha256 checked."""
        earlier = await self._steps.load(request_id)
        if earlier is None or earlier.database != target.name:
            raise UnknownTargetError(
                f"no backup of database `{target.name}` taken by {request_id} in the evidence store"
            )
        if earlier.backup is None:
            raise UnknownTargetError(f"{request_id} took no backup: its backup step did not finish")
        dump = await self._store.get(f"{earlier.backup.folder}/{earlier.backup.file}")
        if dump is None:
            raise UnknownTargetError(
                f"the backup taken by {request_id} is not in the evidence store"
            )
        if hashlib.sha256(dump).hexdigest() != earlier.backup.sha256:
            raise TargetUnavailableError(
                f"the backup taken by {request_id} does not match the sha256 recorded when it was "
                "taken: it changed since, and rollbot will not restore it"
            )
        return earlier, dump

    async def preflight(
        self, target: TargetRef, p: DatabasePolicy, db: PostgresDatabase, request_id: str
    ) -> Preflight:
        earlier, _ = await self.backup_of(target, request_id)
        live = await db.migration()
        plan = DatabasePlan(
            database=target.name,
            from_migration=live,
            to_migration=earlier.from_migration,
            restore_from=request_id,
        )
        lost = written_since(await db.row_counts(), earlier.rows_before)
        apps = tuple(
            [(name, await self.jobs.replicas(p.namespace, name)) for name in p.deployments]
        )
        backup = earlier.step(DatabaseStep.BACKUP)
        taken = f"{backup.ended_at:%Y-%m-%d %H:%M} UTC" if backup and backup.ended_at else "?"
        assert earlier.backup is not None
        return Preflight(
            live_revision=live,
            to_revision=earlier.from_migration,
            database=plan,
            summary=restore_summary(plan, taken, earlier.backup.sha256, apps, lost),
            changes=(
                f"database {target.name}: restore the backup taken by {request_id}",
                *(f"loses {n} rows of {t} written since the backup" for t, n in lost.items()),
            ),
        )

    async def execute(
        self,
        request: RollbackRequest,
        p: DatabasePolicy,
        db: PostgresDatabase,
        progress: Progress,
        fence: Fence,
    ) -> ExecutionResult:
        plan = request.database_plan
        assert plan is not None
        assert plan.restore_from is not None
        run = DatabaseRun(
            kind="restore",
            request_id=request.id,
            database=plan.database,
            from_migration=plan.from_migration,
            to_migration=plan.to_migration,
            restore_from=plan.restore_from,
        )
        one = _Restore(self, run, plan, p, db, fence)
        for step, work in (
            (RestoreStep.SCALE_DOWN, one.scale_down),
            (RestoreStep.SNAPSHOT, one.counts),
            (RestoreStep.RESTORE, one.restore),
            (RestoreStep.CHECK, one.check),
            (RestoreStep.SCALE_UP, one.scale_up),
        ):
            await self._steps.step(run, step, progress, work, left=one.left)
        return ExecutionResult(
            from_revision=plan.from_migration,
            to_revision=plan.to_migration,
            detail=f"database `{plan.database}` restored from the backup taken by "
            f"{plan.restore_from}; rows written since the backup and lost (measured): "
            f"{run.lost_said()}",
        )


@dataclass
class _Restore:
    """One restore's steps, each behind the lease's fence where it changes something."""

    restorer: Restorer
    run: DatabaseRun
    plan: DatabasePlan
    policy: DatabasePolicy
    db: PostgresDatabase
    fence: Fence

    def left(self) -> str:
        if not self.run.scaled:
            return ""
        again = "; ".join(
            f"kubectl -n {self.policy.namespace} scale deployment/{name} --replicas={n}"
            for name, n in self.run.scaled.items()
        )
        return f"the application is scaled down (bring it back with `{again}`); "

    async def scale_down(self) -> None:
        await self.fence()
        jobs, namespace = self.restorer.jobs, self.policy.namespace
        for name in self.policy.deployments:
            self.run.scaled[name] = await jobs.replicas(namespace, name)
            await jobs.scale(namespace, name, 0)

    async def counts(self) -> None:
        self.run.rows_before = await self.db.row_counts()
        self.run.schema_before = await self.db.schema()

    async def restore(self) -> None:
        target = TargetRef(kind="database", name=self.plan.database)
        _, dump = await self.restorer.backup_of(target, self.plan.restore_from or "")
        await self.fence()
        await self.db.restore(dump, self.policy.backup_timeout.total_seconds())

    async def check(self) -> None:
        at = await self.db.migration()
        if at != self.plan.to_migration:
            raise ExecutionError(f"the database is at migration {at}, not {self.plan.to_migration}")
        self.run.rows_after = await self.db.row_counts()
        self.run.schema_after = await self.db.schema()

    async def scale_up(self) -> None:
        for name, n in self.run.scaled.items():
            await self.restorer.jobs.scale(self.policy.namespace, name, n)
