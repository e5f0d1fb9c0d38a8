"""The last approval of a plan whose target moved meanwhile runs nothing; the new plan, once a
person approves it, runs as it now stands."""

from __future__ import annotations

import pytest

from bot.domain import events as ev
from bot.domain.errors import ApprovalRefusedError
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy, Role, RoleSource
from bot.domain.request import RequestState, RollbackRequest, TargetRef
from bot.ports import Preflight
from sandbox.executor import ScriptedExecutor
from tests.usecases.conftest import ALICE, BOB, World

CAROL = Person(id="U0CAROL", name="carol")


class DeployLandsBetween(ScriptedExecutor):
    """A release lands after the approval's own check and before execution: the approval sees
    the old live revision, the execution's preflight the new one."""

    def __init__(self) -> None:
        super().__init__()
        self.land: str | None = None

    async def live_revision(self, target: TargetRef) -> str | None:
        seen = await super().live_revision(target)
        if self.land is not None:
            state = self.targets[target.label]
            state.revisions.append(self.land)
            state.live, self.land = self.land, None
        return seen


@pytest.fixture
def executor() -> ScriptedExecutor:
    return DeployLandsBetween()


@pytest.fixture
def policy(policy: ApprovalPolicy) -> ApprovalPolicy:
    roles = dict(policy.roles) | {Role.ON_CALL: RoleSource(users=("U0ALICE", "U0CAROL"))}
    return policy.model_copy(update={"roles": roles})


async def _approved_while_a_release_lands(world: World, channel: str) -> RollbackRequest:
    opened = (await world.open(channel=channel, to_revision="1")).request
    chosen = await world.decisions.choose_rollback(opened.id, opened.version, ALICE)
    executor = world.executor
    assert isinstance(executor, DeployLandsBetween)
    executor.land = "4"
    approved = await world.approvals.approve(chosen.id, chosen.version, BOB)
    await world.executions.drain()
    return approved


async def test_the_last_approval_runs_nothing_when_the_target_moved(
    world: World, channel: str
) -> None:
    approved = await _approved_while_a_release_lands(world, channel)

    after = await world.reload(approved)
    assert after.state is RequestState.AWAITING_APPROVAL
    assert after.baseline_revision == "4"
    assert after.to_revision == "1"  # asked for by number: still revision 1
    assert world.executor.targets["deployment/api -n prod"].live == "4"  # untouched
    actions = [e.action for c in world.committed for _, e in c.of_type(ev.AuditEffect)]
    assert "plan.changed" in actions
    assert "execution.started" not in actions


async def test_the_changed_plan_runs_once_the_matrix_role_approves_it(
    world: World, channel: str
) -> None:
    changed = await world.reload(await _approved_while_a_release_lands(world, channel))

    again = await world.approvals.approve(changed.id, changed.version, BOB)
    await world.executions.drain()

    assert again.state is RequestState.APPROVED
    done = await world.reload(again)
    assert done.state is RequestState.COMPLETED
    assert world.executor.targets["deployment/api -n prod"].live == "1"


async def test_a_target_that_cannot_be_read_is_not_rolled_back(world: World, channel: str) -> None:
    opened = (await world.open(channel=channel)).request

    async def unreadable(target: TargetRef, to_revision: str | None) -> Preflight:
        raise TimeoutError("the API server did not answer")

    world.executor.preflight = unreadable  # type: ignore[method-assign]
    await world.decisions.choose_rollback(opened.id, opened.version, ALICE)  # auto-approved
    await world.executions.drain()

    after = await world.reload(opened)
    assert after.state is RequestState.AWAITING_APPROVAL
    assert after.plan_changed is not None
    assert "could not read deployment/api -n prod" in after.plan_changed
    assert world.executor.targets["deployment/api -n prod"].live == "3"
    with pytest.raises(ApprovalRefusedError):  # the requester cannot approve it herself
        await world.approvals.approve(after.id, after.version, ALICE)

    # carol, also on call, approves; the target still cannot be read, so still nothing runs
    await world.approvals.approve(after.id, after.version, CAROL)
    await world.executions.drain()
    assert (await world.reload(after)).state is RequestState.AWAITING_APPROVAL
    assert world.executor.targets["deployment/api -n prod"].live == "3"
