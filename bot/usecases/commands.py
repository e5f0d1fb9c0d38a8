"""The `/rollback` grammar: text in, a typed command out. Pure; no Slack shapes here."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.decision import DecisionAnswers
from bot.domain.errors import DomainError
from bot.domain.events import ObligationKind
from bot.domain.policy import RollbackType
from bot.domain.reporting import Month
from bot.domain.request import TargetRef
from bot.domain.severity import Severity, SeveritySignals, parse_severity

USAGE = """\
*Usage*
• `/rollback` — open the rollback form
• `/rollback <kind>/<name> [-n NAMESPACE] [--to-revision N] [--severity P1..P4] [--reason "..."] [--ticket URL]`
   kinds: `deployment`, `configmap`, `codedeploy/<app>/<group>`, `flag/<key> [--env ENV]`
• `/rollback status [ID]` — where a request stands
• `/rollback list` — open requests in this channel
• `/rollback history <kind>/<name> [-n NAMESPACE]` — past rollback requests for a target
• `/rollback postmortem|review|written-approval <ID> <link>`, `/rollback approve-retro <ID>` — meet what is owed
• `/rollback customers-notified <ID> [how]` — customers were told (seed 001: P1 30 min, P2 2 h, P3 4 h)
• `/rollback report [YYYY-MM]` — the month's incident metrics and charts, in this channel
• `/rollback help` — this text
Example: `/rollback deployment/api -n prod --severity P1 --reason "5xx after v1.3.0"`"""

MAX_REASON = 1000
MAX_TICKET = 500
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_AWS_NAME = re.compile(r"^[A-Za-z0-9._+=,@-]{1,100}$")
_FLAG_KEY = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_DEPLOYMENT_ID = re.compile(r"^d-[A-Z0-9]{9}$")
_REQUEST_ID = re.compile(r"^RB-[0-9A-Z]{4,16}$")
_KIND_ALIASES = {
    "deployment": "deployment",
    "deploy": "deployment",
    "configmap": "configmap",
    "cm": "configmap",
    "codedeploy": "codedeploy",
    "flag": "flag",
}


class CommandError(DomainError):
    """Malformed input; the message says what was wrong, and the usage follows it."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"{problem}\n\n{USAGE}")


@dataclass(frozen=True)
class ShowHelp:
    pass


@dataclass(frozen=True)
class OpenForm:
    pass


@dataclass(frozen=True)
class ShowStatus:
    request_id: str | None


@dataclass(frozen=True)
class ListOpen:
    pass


@dataclass(frozen=True)
class OpenRollback:
    target: TargetRef
    rollback_type: RollbackType
    to_revision: str | None
    severity: Severity | None
    reason: str
    ticket: str | None
    # The form asks these; the one-line command leaves them to the defaults.
    signals: SeveritySignals | None = None
    answers: DecisionAnswers = field(default_factory=DecisionAnswers)
    override_reason: str | None = None
    # When the problem was first seen, if something saw it before a person did (an alert).
    detected_at: datetime | None = None


@dataclass(frozen=True)
class ShowHistory:
    target: TargetRef


@dataclass(frozen=True)
class MeetObligationCommand:
    request_id: str
    kind: ObligationKind
    evidence: str


@dataclass(frozen=True)
class ApproveRetroactively:
    request_id: str


# `/rollback postmortem RB-… <link>` and friends: the obligation each subcommand meets.
OBLIGATION_COMMANDS = {
    "postmortem": ObligationKind.POST_MORTEM,
    "review": ObligationKind.POST_EMERGENCY_REVIEW,
    "written-approval": ObligationKind.EMERGENCY_WRITTEN_APPROVAL,
}


@dataclass(frozen=True)
class ShowReport:
    month: Month | None  # None: this month


Command = (
    ShowReport
    | ShowHelp
    | OpenForm
    | ShowStatus
    | ListOpen
    | ShowHistory
    | OpenRollback
    | MeetObligationCommand
    | ApproveRetroactively
)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise CommandError(f"could not read the command: {exc} (check your quotes)") from None


def target_from(spec: str, namespace: str | None = None, env: str | None = None) -> TargetRef:
    """A target as the form gives it, checked by the same rules as the command line."""
    return _target(spec, namespace, env)


def rollback_type_for(target: TargetRef, to_revision: str | None) -> RollbackType:
    return _rollback_type(target, to_revision)


def check_revision(text: str, kind: str = "deployment") -> str:
    """A Kubernetes revision or a flag version is a number; a CodeDeploy one a deployment ID."""
    if kind == "codedeploy":
        if not _DEPLOYMENT_ID.match(text):
            raise CommandError(
                f"--to-revision takes a CodeDeploy deployment ID (d-…), not `{text}`"
            )
        return text
    if not (text.isdigit() and int(text) > 0):
        raise CommandError(f"--to-revision takes a revision number, not `{text}`")
    return text


def check_ticket(text: str) -> str:
    if len(text) > MAX_TICKET or not text.startswith(("https://", "http://")):
        raise CommandError("--ticket takes a link starting with https://")
    return text


def check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise CommandError('say why: --reason "what is broken"')
    if len(reason) > MAX_REASON:
        raise CommandError(f"the reason is {len(reason)} characters; keep it under {MAX_REASON}")
    return reason


def _target(spec: str, namespace: str | None, env: str | None) -> TargetRef:
    kind_text, _, rest = spec.partition("/")
    kind = _KIND_ALIASES.get(kind_text.lower())
    if kind is None or not rest:
        raise CommandError(
            f"unknown target `{spec}`: write it as <kind>/<name>, e.g. deployment/api"
        )
    if kind in ("deployment", "configmap"):
        if not _DNS_SUBDOMAIN.match(rest):
            raise CommandError(
                f"`{rest}` is not a valid Kubernetes name (lower case, digits, '-', '.')"
            )
        ns = namespace or "default"
        if not _DNS_LABEL.match(ns):
            raise CommandError(f"`{ns}` is not a valid Kubernetes namespace")
        return TargetRef(kind=kind, name=rest, namespace=ns)
    if namespace is not None:
        raise CommandError(f"-n applies to Kubernetes targets, not {kind}")
    if kind == "codedeploy":
        app, _, group = rest.partition("/")
        if not (_AWS_NAME.match(app) and _AWS_NAME.match(group)):
            raise CommandError("a CodeDeploy target is codedeploy/<application>/<deployment-group>")
        return TargetRef(kind=kind, name=f"{app}/{group}")
    if not _FLAG_KEY.match(rest):
        raise CommandError(f"`{rest}` is not a valid flag key")
    return TargetRef(kind=kind, name=rest, namespace=env or "production")


def _rollback_type(target: TargetRef, to_revision: str | None) -> RollbackType:
    if target.kind == "configmap":
        return RollbackType.CONFIGURATION
    if target.kind == "flag":
        return RollbackType.FEATURE_FLAG
    return (
        RollbackType.DEPLOYMENT_OLDER_VERSION
        if to_revision
        else RollbackType.DEPLOYMENT_LAST_VERSION
    )


_FLAGS = {
    "-n": "namespace",
    "--namespace": "namespace",
    "--to-revision": "to_revision",
    "--severity": "severity",
    "--reason": "reason",
    "--ticket": "ticket",
    "--env": "env",
}


def _options(words: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        flag, eq, inline = word.partition("=")
        name = _FLAGS.get(flag)
        if name is None:
            raise CommandError(f"unknown option `{word}`")
        if name in found:
            raise CommandError(f"`{flag}` is given twice")
        if eq:
            found[name] = inline
            i += 1
            continue
        if i + 1 >= len(words) or (words[i + 1].startswith("-") and words[i + 1] in _FLAGS):
            raise CommandError(f"`{flag}` needs a value")
        found[name] = words[i + 1]
        i += 2
    return found


def _severity(text: str) -> Severity:
    try:
        return parse_severity(text)
    except DomainError as exc:
        raise CommandError(str(exc)) from None


def _open(spec: str, words: list[str]) -> OpenRollback:
    opts = _options(words)
    target = _target(spec, opts.get("namespace"), opts.get("env"))
    if "env" in opts and target.kind != "flag":
        raise CommandError("--env applies to flag targets only")
    to_revision = (
        check_revision(opts["to_revision"], target.kind) if "to_revision" in opts else None
    )
    severity = _severity(opts["severity"]) if "severity" in opts else None
    reason = check_reason(opts.get("reason", ""))
    ticket = check_ticket(opts["ticket"]) if "ticket" in opts else None
    return OpenRollback(
        target=target,
        rollback_type=_rollback_type(target, to_revision),
        to_revision=to_revision,
        severity=severity,
        reason=reason,
        ticket=ticket,
    )


def parse_command(text: str) -> Command:
    words = _split(text)
    if not words:
        return OpenForm()
    head, rest = words[0], words[1:]
    if head == "help":
        return ShowHelp()
    if head == "report":
        if len(rest) > 1:
            raise CommandError("`report` takes at most a month such as 2026-11")
        try:
            return ShowReport(Month.parse(rest[0]) if rest else None)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    if head == "list":
        if rest:
            raise CommandError("`list` takes no arguments")
        return ListOpen()
    if head == "status":
        if len(rest) > 1 or (rest and not _REQUEST_ID.match(rest[0].upper())):
            raise CommandError("`status` takes one request id such as RB-7K2Q9X")
        return ShowStatus(request_id=rest[0].upper() if rest else None)
    if head in OBLIGATION_COMMANDS:
        if len(rest) != 2 or not _REQUEST_ID.match(rest[0].upper()):
            raise CommandError(
                f"`{head}` takes a request id and a link: {head} RB-7K2Q9X https://…"
            )
        return MeetObligationCommand(
            rest[0].upper(), OBLIGATION_COMMANDS[head], check_ticket(rest[1])
        )
    if head == "customers-notified":
        if not rest or not _REQUEST_ID.match(rest[0].upper()):
            raise CommandError(
                "`customers-notified` takes a request id and how: customers-notified RB-7K2Q9X status page"
            )
        how = check_reason(" ".join(rest[1:]) or "said so in Slack")
        return MeetObligationCommand(rest[0].upper(), ObligationKind.CUSTOMER_NOTIFICATION, how)
    if head == "approve-retro":
        if len(rest) != 1 or not _REQUEST_ID.match(rest[0].upper()):
            raise CommandError("`approve-retro` takes one request id such as RB-7K2Q9X")
        return ApproveRetroactively(rest[0].upper())
    if head == "history":
        if not rest or "/" not in rest[0]:
            raise CommandError("`history` takes a target such as deployment/api -n prod")
        opts = _options(rest[1:])
        return ShowHistory(target=_target(rest[0], opts.get("namespace"), opts.get("env")))
    if "/" in head:
        return _open(head, rest)
    raise CommandError(f"unknown subcommand `{head}`")
