"""A deployment rollback whose older release expects an older schema: one plan, the database
first. The runbook's order: full backup, schema and exact row counts, the downgrade, the schema
check, and only then the deployment undo. A failed database step leaves the deployment as it
was; a process that takes the rollback over finishes the steps that were never started, each
behind the lease's fence, and never repeats one that ran."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.domain.database_rollback import with_deployment_undo
from bot.domain.policy import RollbackType
from bot.domain.request import RollbackRequest, TargetRef
from bot.ports import (
    AdapterError,
    EvidenceWindow,
    ExecutionError,
    ExecutionResult,
    Executor,
    Fence,
    NothingChangedError,
    Preflight,
    Progress,
    ReadableEvidence,
    SchemaRecords,
    UnknownTargetError,
)


class DeploymentWithItsDatabase:
    """The deployment executor, with the database whose migrations its releases carry."""

    def __init__(
        self,
        deployment: Executor,
        database: Executor,
        owners: Mapping[tuple[str, str], str],
        records: SchemaRecords,
    ) -> None:
        self._deployment = deployment
        self._database = database
        self._records = records
        # (namespace, deployment) → the database its releases migrate
        self._owners = owners

    def _database_of(self, target: TargetRef) -> TargetRef | None:
        name = self._owners.get((target.namespace or "default", target.name))
        return TargetRef(kind="database", name=name) if name else None

    async def preflight(
        self, target: TargetRef, to_revision: str | None, to_migration: str | None = None
    ) -> Preflight:
        database = self._database_of(target)
        if database is None and to_migration is not None:
            raise UnknownTargetError(
                f"--to-migration: no database in the policy lists `{target.label}` among its "
                "deployments"
            )
        plan = await self._deployment.preflight(target, to_revision)
        if database is None:
            return plan
        expected = to_migration or await self._expected(target, plan)
        if expected is None:
            return plan
        if await self._database.live_revision(database) == expected:
            return plan  # the older release runs on today's schema
        schema = await self._database.preflight(database, expected)
        return replace(
            plan,
            summary=with_deployment_undo(schema.summary, target.label, plan.summary),
            changes=(*schema.changes, *plan.changes),
            database=schema.database,
        )

    async def _expected(self, target: TargetRef, plan: Preflight) -> str | None:
        """What the destination release expects: its template says, else what rollbot
        recorded when it saw that release. Whatever a template says is recorded."""
        for identity, said in (
            (plan.live_identity, plan.live_migration),
            (plan.to_identity, plan.expects_migration),
        ):
            if identity and said:
                await self._records.record(target, identity, said)
        if plan.expects_migration is not None or plan.to_identity is None:
            return plan.expects_migration
        return await self._records.recall(target, plan.to_identity)

    async def live_revision(self, target: TargetRef) -> str | None:
        return await self._deployment.live_revision(target)

    def _schema_request(self, request: RollbackRequest) -> RollbackRequest:
        if request.rollback_type is not RollbackType.DATABASE:
            # opened without the database row's approvals (the schema moved since): never run
            raise ExecutionError(
                "the plan now downgrades a database, which needs the DBA's and the engineering "
                "lead's approval; nothing was changed: request the rollback again"
            )
        assert request.database_plan is not None
        plan = request.database_plan
        return request.model_copy(
            update={
                "target": TargetRef(kind="database", name=plan.database),
                "baseline_revision": plan.from_migration,
                "to_revision": plan.to_migration,
            }
        )

    async def _undo(
        self, request: RollbackRequest, progress: Progress, fence: Fence
    ) -> ExecutionResult:
        plan = request.database_plan
        assert plan is not None
        await progress(
            f"the schema is rolled back; rolling `{request.target.label}` back to revision "
            f"{request.to_revision or 'previous'}"
        )
        try:
            return await self._deployment.execute(request, progress, fence)
        except ExecutionError as exc:
            raise ExecutionError(
                f"the deployment undo failed: {exc}. Database `{plan.database}` is already at "
                f"migration {plan.to_migration} (downgraded from {plan.from_migration}), which "
                f"the release `{request.target.label}` still runs may not expect"
            ) from None

    async def execute(
        self, request: RollbackRequest, progress: Progress, fence: Fence
    ) -> ExecutionResult:
        if request.database_plan is None:
            return await self._deployment.execute(request, progress, fence)
        try:
            await self._database.execute(self._schema_request(request), progress, fence)
        except ExecutionError as exc:
            raise ExecutionError(
                f"{exc}; `{request.target.label}` is untouched at revision "
                f"{request.baseline_revision or '?'}"
            ) from None
        return await self._undo(request, progress, fence)

    async def resume(
        self, request: RollbackRequest, progress: Progress, fence: Fence | None = None
    ) -> ExecutionResult:
        if request.database_plan is None:
            return await self._deployment.resume(request, progress, fence)
        try:  # the undo runs last: when it is there, every database step ran before it
            return await self._deployment.resume(request, progress, fence)
        except NothingChangedError:
            pass
        # NothingChangedError from here: no downgrade Job either, so nothing changed at all
        await self._database.resume(self._schema_request(request), progress, fence)
        if fence is None:
            raise ExecutionError(
                f"the schema is rolled back but `{request.target.label}` is not, and this "
                "process may not change it; roll it back by hand or request it again"
            )
        return await self._undo(request, progress, fence)

    async def capture(self, target: TargetRef) -> dict[str, Any]:
        captured = await self._deployment.capture(target)
        database = self._database_of(target)
        if database is None:
            return captured
        try:
            schema = await self._database.capture(database)
        except AdapterError as exc:  # the deployment's evidence stands without it
            schema = {"unreadable": str(exc)}
        return {**captured, "database": schema}

    async def readable(
        self, target: TargetRef, captured: Mapping[str, Any], window: EvidenceWindow
    ) -> ReadableEvidence:
        found = await self._deployment.readable(target, captured, window)
        database = self._database_of(target)
        if database is None:
            return found
        schema = await self._database.readable(database, captured.get("database", {}), window)
        # no database files: this rollback had no database step, which is no gap
        gaps = (*found.gaps, *schema.gaps) if schema.files else found.gaps
        return ReadableEvidence(files={**found.files, **schema.files}, gaps=gaps)
