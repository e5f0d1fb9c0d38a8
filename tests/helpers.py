"""Reading what rollbot stored, for assertions."""

from __future__ import annotations

import asyncio
import tarfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import col

from bot.audit.chain import CHECKPOINT_RULE
from bot.domain.policy import ApprovalPolicy
from bot.ports import Clock
from bot.store.tables import AuditEntryRow, InboxRow, OutboxRow, RollbackRequestRow
from rollbot.bootstrap.runtime import Runtime, build_runtime
from sandbox.executor import ScriptedExecutor, ScriptedVerifier
from sandbox.slack.driver import BotReply, SlackDriver


@dataclass(frozen=True)
class Stored:
    requests: int
    audit: int
    outbox: int


async def stored(rt: Runtime) -> Stored:
    """What requests stored: the checkpoint rule a fresh database records at start-up is not."""
    async with rt.engine.connect() as conn:
        counts = [
            (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (RollbackRequestRow, OutboxRow)
        ]
        audit = await conn.execute(
            select(func.count())
            .select_from(AuditEntryRow)
            .where(col(AuditEntryRow.action) != "audit.checkpoint_rule")
        )
    return Stored(counts[0], audit.scalar_one(), counts[1])


NOTHING = Stored(0, 0, 0)


async def inbox_rows(rt: Runtime, kind: str = "slack") -> int:
    """Every row the inbox holds of `kind`, processed or not."""
    async with rt.engine.connect() as conn:
        found = await conn.execute(
            select(func.count()).select_from(InboxRow).where(col(InboxRow.kind) == kind)
        )
    return int(found.scalar_one())


async def answered(rt: Runtime, driver: SlackDriver, user: str, send: Awaitable[BotReply]) -> str:
    """Send a request as `user`, let the worker process it, and return what the person was
    told last (through the request's response_url or by direct message), else what the HTTP
    answer itself said."""
    seen = len(driver.slack.ephemeral_for(user)), len(driver.slack.direct_messages_to(user))
    reply = await send
    assert reply.status == 200, reply.text
    await rt.settle()
    later = [
        *driver.slack.ephemeral_for(user)[seen[0] :],
        *driver.slack.direct_messages_to(user)[seen[1] :],
    ]
    if later:
        return str(later[-1]["text"])
    body = reply.json() if reply.text else None
    return str(body.get("text", "")) if isinstance(body, dict) else ""


def evidence_files(rt: Runtime) -> tuple[Path, dict[str, bytes]]:
    """The one evidence pack a test's rollback left, and its files by name."""
    [path] = list(rt.settings.evidence_dir.glob("*/evidence-*.tar.gz"))
    with tarfile.open(path) as tar:
        files = {
            m.name.split("/", 1)[1]: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
        }
    return path, files


async def audit_actions(rt: Runtime) -> list[str]:
    async with rt.uow() as uow:
        # the checkpoint rule each fresh database records first is not a request's story
        return [e.action for e in await uow.audit.entries() if e.action != CHECKPOINT_RULE]


async def another_replica(
    runtime: Runtime,
    clock: Clock,
    policy: ApprovalPolicy,
    executor: ScriptedExecutor,
    verifier: ScriptedVerifier | None = None,
    **settings: object,
) -> Runtime:
    """A second rollbot (another replica, or the same one restarted) on the same database."""
    executors = dict.fromkeys(("deployment", "configmap", "codedeploy", "flag"), executor)
    return await build_runtime(
        runtime.settings.model_copy(update=settings),
        clock=clock,
        policy=policy,
        executors=executors,
        verifier=verifier or ScriptedVerifier(),
    )


async def unfenced() -> None:
    """The fence of a process that holds its lease throughout (executor tests without a
    database): it never refuses."""


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], failure: str, *, seconds: float = 10.0
) -> None:
    """Wait, bounded, until `condition` holds (a background step got that far); else fail with
    `failure`. Orders the test's next step after it, never asserts how long it took."""
    pause = 0.01
    for _ in range(int(seconds / pause)):
        met = condition()
        if met if isinstance(met, bool) else await met:
            return
        await asyncio.sleep(pause)
    raise AssertionError(failure)
