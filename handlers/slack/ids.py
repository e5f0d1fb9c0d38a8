"""Action, block and callback ids, and the typed models that buttons and modals carry."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.errors import DomainError


class ActionId(StrEnum):
    CHOOSE_ROLLBACK = "rollback.choose_rollback"
    CHOOSE_FORWARD_FIX = "rollback.choose_forward_fix"
    APPROVE = "rollback.approve"
    DENY = "rollback.deny"
    OVERRIDE = "rollback.override"
    CANCEL = "rollback.cancel"
    CUSTOMERS_NOTIFIED = "rollback.customers_notified"
    CONFIRM_RECOVERY = "rollback.confirm_recovery"


class BlockId(StrEnum):
    SUMMARY = "summary"
    DECISION = "decision"
    APPROVALS = "approvals"
    CONTROLS = "controls"
    FOLLOW_UP = "follow_up"
    # form inputs
    TARGET_KIND = "target_kind"
    TARGET_NAME = "target_name"
    NAMESPACE = "namespace"
    TO_REVISION = "to_revision"
    SEVERITY = "severity"
    SIGNALS = "signals"
    ERROR_RATE = "error_rate"
    LATENCY_RATIO = "latency_ratio"
    TREE = "tree"
    RESTORE_MINUTES = "restore_minutes"
    FIX_MINUTES = "fix_minutes"
    REASON = "reason"
    TICKET = "ticket"
    OVERRIDE = "override"


class CallbackId(StrEnum):
    OPEN_FORM = "rollback.open_form"
    DENY_REASON = "rollback.deny_reason"
    OVERRIDE_REASON = "rollback.override_reason"
    CANCEL_REASON = "rollback.cancel_reason"


# Every input's element uses the same action id; Slack keys form values by block, then action.
VALUE = "value"


class BadPayloadError(DomainError):
    def __init__(self) -> None:
        super().__init__("this button or form is damaged or from another app; use the current card")


class CardAction(BaseModel):
    """What a card button carries: the request and the version of it the person was looking at."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    request_id: str = Field(alias="r", pattern=r"^RB-[0-9A-Z]{4,16}$")
    version: int = Field(alias="v", ge=0)

    def encode(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def decode(cls, raw: str) -> CardAction:
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            raise BadPayloadError() from None


class FormOrigin(BaseModel):
    """What the /rollback form remembers in private_metadata: where it was opened."""

    model_config = ConfigDict(frozen=True)

    channel_id: str = Field(max_length=32)
    channel_name: str = Field(max_length=100)

    @classmethod
    def decode(cls, raw: str) -> FormOrigin:
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            raise BadPayloadError() from None
