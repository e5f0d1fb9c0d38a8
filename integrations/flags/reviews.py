"""Following a change the flag service itself must approve: a LaunchDarkly approval request or
an Unleash change request. Rollbot's own approvals come first; the change is then proposed
there, and rollbot waits, bounded, until it is applied or declined. Once the service's
reviewers approve, rollbot applies it itself (its own approvers already decided), or, when its
token may not, says so and waits for someone who may."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.ports import ExecutionError, Progress
from integrations.flags.http import FlagApiError


class Review(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # approved there, not applied yet
    APPLIED = "applied"
    DECLINED = "declined"
    FAILED = "failed"


@dataclass(frozen=True)
class ReviewState:
    review: Review
    detail: str = ""  # e.g. "declined by alice@example.com: not during the freeze"


@dataclass(frozen=True)
class Proposal:
    """One change proposed to a flag service, as people find it there."""

    service: str  # "LaunchDarkly"
    kind: str  # "approval request"
    link: str
    read: Callable[[], Awaitable[ReviewState]]
    # applies an approved proposal; False when rollbot's token may not
    apply: Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class WaitRules:
    wait_seconds: float = 600.0  # within the rollback's lease deadline
    poll_seconds: float = 5.0
    remind_seconds: float = 120.0  # a line on the timeline while waiting, so people see it


async def applied_unless_forbidden(call: Awaitable[object]) -> bool:
    """A Proposal's apply: True once the call went through, False when the platform answers
    403 (rollbot's token lacks the apply permission); any other failure is raised."""
    try:
        await call
    except FlagApiError as exc:
        if exc.status == 403:
            return False
        raise
    return True


def span(seconds: float) -> str:
    """A wait as people say it: "10 minutes", "1 minute", "20 s"."""
    if seconds < 60:
        return f"{seconds:g} s"
    minutes = round(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


async def follow(proposal: Proposal, progress: Progress, rules: WaitRules) -> None:
    """Returns once the proposal is applied; raises ExecutionError, naming the link, otherwise."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    said, tried_apply = started, False
    name = f"{proposal.service} {proposal.kind} {proposal.link}"
    while True:
        state = await proposal.read()
        if state.review is Review.APPLIED:
            await progress(f"{name} was applied")
            return
        if state.review in (Review.DECLINED, Review.FAILED):
            verb = "was declined" if state.review is Review.DECLINED else "failed"
            raise ExecutionError(f"{name} {verb} ({state.detail}); the flag is unchanged")
        if state.review is Review.APPROVED and not tried_apply:
            tried_apply = True
            if await proposal.apply():
                continue
            await progress(
                f"{name} is approved, but rollbot may not apply it: someone with the apply "
                "permission must apply it there"
            )
        now = loop.time()
        if now - started > rules.wait_seconds:
            raise ExecutionError(
                f"{name} was not applied within {span(rules.wait_seconds)}; it stays "
                "open there, and if someone applies it later the flag changes then (decline it "
                "there if the rollback is no longer wanted)"
            )
        if now - said > rules.remind_seconds:
            said = now
            await progress(f"still waiting for {name} ({state.detail or state.review.value})")
        await asyncio.sleep(rules.poll_seconds)
