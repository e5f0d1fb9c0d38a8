"""The /rollback form: the modal, and reading its submission into the same typed command the
one-line form produces. A bad field is reported on that field."""

from __future__ import annotations

from typing import Any

from bot.domain.decision import DecisionAnswers
from bot.domain.errors import DomainError
from bot.domain.severity import SeveritySignals, parse_severity
from bot.domain.targets import (
    InputError,
    check_reason,
    check_revision,
    check_ticket,
    rollback_type_for,
    target_from,
)
from bot.usecases.commands import OpenRollback
from handlers.slack.ids import BlockId, CallbackId, FormOrigin

B = BlockId


class FormError(DomainError):
    def __init__(self, block: BlockId, message: str) -> None:
        super().__init__(message)
        self.block = block


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


def _input(
    block: BlockId, label: str, element: dict[str, Any], *, optional: bool = False, hint: str = ""
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "input",
        "block_id": block.value,
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        # action ids unique within the view: each input's is its block id
        "element": {**element, "action_id": block.value},
    }
    if hint:
        out["hint"] = {"type": "plain_text", "text": hint}
    return out


def _text(placeholder: str = "", multiline: bool = False) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline}
    if placeholder:
        element["placeholder"] = {"type": "plain_text", "text": placeholder}
    return element


def _checkboxes(options: list[tuple[str, str]], initial: tuple[str, ...] = ()) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "checkboxes", "options": [_option(v, t) for v, t in options]}
    chosen = [_option(v, t) for v, t in options if v in initial]
    if chosen:
        element["initial_options"] = chosen
    return element


SIGNALS = [
    ("total_outage", "Total outage"),
    ("data_loss", "Data loss or corruption"),
    ("security_breach", "Security breach / customer data exposed"),
    ("feature_broken", "A feature is broken"),
    ("critical_to_customers", "…and customers depend on it"),
    ("internal_only", "Internal only (not customer visible)"),
]
TREE = [
    ("issue_in_deployment", "The issue is in the deployment"),
    ("simple_to_revert", "It is simple to revert (image or config swap)"),
    ("database_migration", "It involves a database migration"),
    ("hybrid", "Hybrid: roll back infra and deploy a patch"),
]


KINDS = [
    ("deployment", "Kubernetes deployment"),
    ("configmap", "ConfigMap"),
    ("codedeploy", "CodeDeploy group (app/group)"),
    ("flag", "Feature flag"),
]
SEVERITIES = [("P1", "P1 critical"), ("P2", "P2 high"), ("P3", "P3 medium"), ("P4", "P4 low")]


def _target_blocks() -> list[dict[str, Any]]:
    """What to roll back, to where, and how bad it is."""
    kinds, severities = KINDS, SEVERITIES
    return [
        _input(
            B.TARGET_KIND,
            "Target kind",
            {
                "type": "static_select",
                "options": [_option(v, t) for v, t in kinds],
                "initial_option": _option(*kinds[0]),
            },
        ),
        _input(B.TARGET_NAME, "Target name", _text("api")),
        _input(
            B.NAMESPACE,
            "Namespace (Kubernetes) or environment (flag)",
            _text("prod"),
            optional=True,
        ),
        _input(
            B.TO_REVISION,
            "Target revision",
            _text("previous"),
            optional=True,
            hint="Leave empty for the previous revision",
        ),
        _input(
            B.SEVERITY,
            "Severity",
            {"type": "static_select", "options": [_option(v, t) for v, t in severities]},
            optional=True,
            hint="Leave empty to classify from the answers below",
        ),
    ]


def _answer_blocks() -> list[dict[str, Any]]:
    """What is happening, the decision tree's questions, the reason and an optional override."""
    return [
        _input(B.SIGNALS, "What is happening?", _checkboxes(SIGNALS), optional=True),
        _input(B.ERROR_RATE, "Requests failing (%)", _text("38"), optional=True),
        _input(B.LATENCY_RATIO, "Latency against baseline (×)", _text("2.5"), optional=True),
        _input(
            B.TREE,
            "Rollback or forward fix?",
            _checkboxes(TREE, ("issue_in_deployment", "simple_to_revert")),
            optional=True,
        ),
        _input(
            B.RESTORE_MINUTES,
            "Minutes to restore the pre-migration backup",
            _text(),
            optional=True,
        ),
        _input(B.FIX_MINUTES, "Minutes until a fix could be live", _text(), optional=True),
        _input(B.REASON, "Reason", _text("5xx at 38% since v1.3.0", multiline=True)),
        _input(B.TICKET, "Ticket link", _text("https://…"), optional=True),
        _input(
            B.OVERRIDE,
            "Emergency override (incident commander, P1 only)",
            _text("why it cannot wait"),
            optional=True,
            hint="Filling this declares the override; retroactive approval is due in 4 h",
        ),
    ]


def open_form(origin: FormOrigin) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.OPEN_FORM.value,
        "private_metadata": origin.model_dump_json(),
        "title": {"type": "plain_text", "text": "Request a rollback"},
        "submit": {"type": "plain_text", "text": "Open request"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": _target_blocks() + _answer_blocks(),
    }


def _value(values: dict[str, Any], block: BlockId) -> Any:
    return (values.get(block.value) or {}).get(block.value) or {}


def _text_of(values: dict[str, Any], block: BlockId) -> str:
    return str(_value(values, block).get("value") or "").strip()


def _selected(values: dict[str, Any], block: BlockId) -> str:
    return str((_value(values, block).get("selected_option") or {}).get("value") or "")


def _checked(values: dict[str, Any], block: BlockId) -> set[str]:
    return {str(o.get("value")) for o in _value(values, block).get("selected_options") or []}


def _number(
    values: dict[str, Any], block: BlockId, *, whole: bool = False, upper: float | None = None
) -> float | None:
    raw = _text_of(values, block).rstrip("%x× ")
    if not raw:
        return None
    try:
        number = int(raw) if whole else float(raw)
    except ValueError:
        raise FormError(block, f"`{raw}` is not a {'whole ' if whole else ''}number") from None
    if number < 0 or (upper is not None and number > upper):
        raise FormError(block, f"{raw} is out of range")
    return number


def _guard(block: BlockId, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except InputError as exc:
        raise FormError(block, exc.problem) from None
    except DomainError as exc:
        raise FormError(block, str(exc)) from None


def read_open_form(values: dict[str, Any]) -> OpenRollback:
    kind = _selected(values, B.TARGET_KIND) or "deployment"
    name = _text_of(values, B.TARGET_NAME)
    scope = _text_of(values, B.NAMESPACE) or None
    target = _guard(
        B.TARGET_NAME,
        target_from,
        f"{kind}/{name}",
        scope if kind in ("deployment", "configmap") else None,
        scope if kind == "flag" else None,
    )
    revision_text = _text_of(values, B.TO_REVISION)
    to_revision = (
        _guard(B.TO_REVISION, check_revision, revision_text, target.kind) if revision_text else None
    )
    chosen = _selected(values, B.SEVERITY)
    severity = _guard(B.SEVERITY, parse_severity, chosen) if chosen else None
    signals_checked = _checked(values, B.SIGNALS)
    error_pct = _number(values, B.ERROR_RATE, upper=100)
    signals = SeveritySignals(
        total_outage="total_outage" in signals_checked,
        data_loss="data_loss" in signals_checked,
        security_breach="security_breach" in signals_checked,
        feature_broken="feature_broken" in signals_checked,
        critical_to_customers="critical_to_customers" in signals_checked,
        customer_visible="internal_only" not in signals_checked,
        error_rate=None if error_pct is None else error_pct / 100,
        latency_ratio=_number(values, B.LATENCY_RATIO),
    )
    tree = _checked(values, B.TREE)
    restore = _number(values, B.RESTORE_MINUTES, whole=True)
    fix = _number(values, B.FIX_MINUTES, whole=True)
    answers = DecisionAnswers(
        data_loss=signals.data_loss,
        issue_in_deployment="issue_in_deployment" in tree,
        simple_to_revert="simple_to_revert" in tree,
        database_migration="database_migration" in tree,
        restore_minutes=None if restore is None else int(restore),
        fix_minutes=None if fix is None else int(fix),
        hybrid_requested="hybrid" in tree,
    )
    reason = _guard(B.REASON, check_reason, _text_of(values, B.REASON))
    ticket_text = _text_of(values, B.TICKET)
    ticket = _guard(B.TICKET, check_ticket, ticket_text) if ticket_text else None
    return OpenRollback(
        target=target,
        rollback_type=rollback_type_for(target, to_revision),
        to_revision=to_revision,
        severity=severity,
        reason=reason,
        ticket=ticket,
        signals=signals,
        answers=answers,
        override_reason=_text_of(values, B.OVERRIDE) or None,
    )
