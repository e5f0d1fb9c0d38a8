"""The readiness gate: a deploy asks whether the version it ships has a recent passing drill and
whether production could still be rolled back; the answer is kept for the monthly report."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.domain.policy import ApprovalPolicy
from bot.domain.request import TargetRef
from bot.domain.rollback_readiness import ReadinessAnswer, RollbackPathFacts, assess
from bot.ports import AdapterError, Clock, Executor, RollbackPaths
from bot.store.uow import UnitOfWork


class ReadinessGate:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        policy: ApprovalPolicy,
        executors: Mapping[str, Executor],
        paths: Mapping[str, RollbackPaths],
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy
        self._executors = executors
        self._paths = paths

    async def _facts(self, target: TargetRef) -> RollbackPathFacts:
        """The kind's own reader, else whether the executor can read the target at all (a flag
        key that does not exist cannot be turned back)."""
        reader = self._paths.get(target.kind)
        if reader is not None:
            return await reader.facts(target)
        executor = self._executors.get(target.kind)
        if executor is None:
            return RollbackPathFacts(
                target=target, unreadable=f"rollbot has no executor for {target.kind} targets"
            )
        try:
            await executor.live_revision(target)
        except AdapterError as exc:
            return RollbackPathFacts(target=target, unreadable=str(exc))
        return RollbackPathFacts(target=target)

    async def answer(self, target: TargetRef, version: str) -> ReadinessAnswer:
        facts = await self._facts(target)
        now = self._clock.now()
        window = self._policy.drills.window
        # One transaction: the answer is kept with the drills it was judged on.
        async with self._uow() as uow:
            drills = await uow.drills.of_target(target.kind, target.name, since=now - window * 4)
            answer = assess(facts, version, drills, now, window)
            await uow.drills.record_answer(answer)
        return answer
