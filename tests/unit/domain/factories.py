"""Building requests and people for domain tests."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.opening import open_rollback_request
from bot.domain.people import Person
from bot.domain.policy import ApprovalPolicy, Role, RollbackType, ServicePolicy
from bot.domain.request import RollbackRequest, TargetRef
from bot.domain.severity import Severity, declared

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ALICE = Person(id="U0ALICE", name="alice")  # requester, on call
BOB = Person(id="U0BOB", name="bob")
CAROL = Person(id="U0CAROL", name="carol")
DAVE = Person(id="U0DAVE", name="dave")
ERIN = Person(id="U0ERIN", name="erin")


def roles(*names: Role) -> frozenset[Role]:
    return frozenset(names)


def make_request(
    kind: RollbackType = RollbackType.DATABASE,
    *,
    severity: Severity = Severity.P1,
    requester_roles: frozenset[Role] = frozenset(),
    auto_rollback: bool = True,
    baseline: str | None = "7",
) -> RollbackRequest:
    policy = ApprovalPolicy(services={"api": ServicePolicy(auto_rollback_on_timeout=auto_rollback)})
    request, _ = open_rollback_request(
        request_id="RB-TEST01",
        channel="C1",
        requester=ALICE,
        requester_roles=requester_roles,
        target=TargetRef(kind="deployment", name="api", namespace="prod"),
        rollback_type=kind,
        assessment=declared(severity, "alice"),
        policy=policy,
        reason="5xx after v1.3.0",
        now=T0,
    )
    return request.model_copy(update={"baseline_revision": baseline})
