"""Typed refusals the domain raises; the Slack layer maps each to a message for the person."""

from __future__ import annotations


class DomainError(Exception):
    """Base for every rule rollbot enforces. `str(err)` is written for the person who acted."""


class InvalidSeverityError(DomainError):
    pass


class IllegalTransitionError(DomainError):
    def __init__(self, event: str, state: str, accepted_in: tuple[str, ...]) -> None:
        self.event = event
        self.state = state
        self.accepted_in = accepted_in
        where = ", ".join(accepted_in) or "no state"
        super().__init__(
            f"this request has moved on: it is {state}, and {event} is accepted only when {where}"
        )


class ApprovalRefusedError(DomainError):
    """Separation of duties or role rules refused an approval or denial."""


class OverrideRefusedError(DomainError):
    pass


class ExecutionGuardError(DomainError):
    """Something tried to execute without satisfied approvals or a valid override."""
