"""The `/rollback` grammar: text in, a typed command out. The words are Slack's; the commands
are the core's (bot.usecases.commands)."""

from __future__ import annotations

import shlex

from bot.domain.errors import DomainError
from bot.domain.events import ObligationKind
from bot.domain.reporting import Month
from bot.domain.request import TargetRef
from bot.domain.severity import Severity, parse_severity
from bot.domain.targets import (
    REQUEST_ID,
    InputError,
    check_backup,
    check_migration,
    check_reason,
    check_revision,
    check_ticket,
    rollback_type_for,
    target_from,
)
from bot.usecases.commands import (
    ApproveRetroactively,
    Command,
    ListOpen,
    MeetObligationCommand,
    OpenForm,
    OpenRollback,
    ShowDrills,
    ShowHelp,
    ShowHistory,
    ShowReport,
    ShowStatus,
)

USAGE = """\
*Usage*
• `/rollback` — open the rollback form
• `/rollback <kind>/<name> [-n NAMESPACE] [--to-revision N] [--severity P1..P4] [--reason "..."] [--ticket URL]`
   kinds: `deployment`, `configmap`, `codedeploy/<app>/<group>`, `flag/<key> [--env ENV]`,
   `database/<name> --to-migration REV`, `database/<name> --restore-backup RB-…`
• `/rollback status [ID]` — where a request stands
• `/rollback list` — open requests in this channel
• `/rollback history <kind>/<name> [-n NAMESPACE]` — past rollback requests for a target
• `/rollback drills <kind>/<name> [-n NAMESPACE]` — the target's latest rollback drills
• `/rollback postmortem|review|written-approval <ID> <link>`, `/rollback approve-retro <ID>` — meet what is owed
• `/rollback customers-notified <ID> [how]` — customers were told (due: P1 30 min, P2 2 h, P3 4 h)
• `/rollback report [YYYY-MM]` — the month's incident metrics and charts, in this channel
• `/rollback help` — this text
Example: `/rollback deployment/api -n prod --severity P1 --reason "5xx after v1.3.0"`"""


class CommandError(InputError):
    """Malformed input; the message says what was wrong, and the usage follows it."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.args = (f"{problem}\n\n{USAGE}",)


# `/rollback postmortem RB-… <link>` and friends: the obligation each subcommand meets.
OBLIGATION_COMMANDS = {
    "postmortem": ObligationKind.POST_MORTEM,
    "review": ObligationKind.POST_EMERGENCY_REVIEW,
    "written-approval": ObligationKind.EMERGENCY_WRITTEN_APPROVAL,
}


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise CommandError(f"could not read the command: {exc} (check your quotes)") from None


_FLAGS = {
    "-n": "namespace",
    "--namespace": "namespace",
    "--to-revision": "to_revision",
    "--to-migration": "to_migration",
    "--restore-backup": "restore_backup",
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


def _to_revision(target: TargetRef, opts: dict[str, str]) -> str | None:
    """Where to roll back to: a revision, or for a database the migration to downgrade to."""
    if target.kind == "database":
        if "to_revision" in opts:
            raise CommandError("a database rolls back to a migration: --to-migration REV")
        if "restore_backup" in opts and "to_migration" in opts:
            raise CommandError("either --to-migration or --restore-backup, not both")
        if "restore_backup" in opts:
            return check_backup(opts["restore_backup"])
        if "to_migration" not in opts:
            raise CommandError(
                "say which migration to downgrade to: --to-migration REV (`alembic history` lists them)"
            )
        return check_migration(opts["to_migration"])
    if "restore_backup" in opts:
        raise CommandError("--restore-backup applies to database targets: database/<name>")
    if "to_migration" in opts and target.kind != "deployment":
        raise CommandError("--to-migration applies to database and deployment targets")
    return check_revision(opts["to_revision"], target.kind) if "to_revision" in opts else None


def _open(spec: str, words: list[str]) -> OpenRollback:
    opts = _options(words)
    target = target_from(spec, opts.get("namespace"), opts.get("env"))
    if "env" in opts and target.kind != "flag":
        raise CommandError("--env applies to flag targets only")
    to_revision = _to_revision(target, opts)
    to_migration = (
        check_migration(opts["to_migration"])
        if "to_migration" in opts and target.kind == "deployment"
        else None
    )
    severity = _severity(opts["severity"]) if "severity" in opts else None
    reason = check_reason(opts.get("reason", ""))
    ticket = check_ticket(opts["ticket"]) if "ticket" in opts else None
    return OpenRollback(
        target=target,
        rollback_type=rollback_type_for(target, to_revision),
        to_revision=to_revision,
        severity=severity,
        reason=reason,
        ticket=ticket,
        to_migration=to_migration,
    )


def parse_command(text: str) -> Command:
    """A typed command, or CommandError naming what to fix, with the usage."""
    try:
        return _parse(text)
    except CommandError:
        raise
    except InputError as exc:  # a field the domain refused: the same words, with the usage
        raise CommandError(exc.problem) from None


def _parse(text: str) -> Command:
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
        if len(rest) > 1 or (rest and not REQUEST_ID.match(rest[0].upper())):
            raise CommandError("`status` takes one request id such as RB-7K2Q9X")
        return ShowStatus(request_id=rest[0].upper() if rest else None)
    if head in OBLIGATION_COMMANDS:
        if len(rest) != 2 or not REQUEST_ID.match(rest[0].upper()):
            raise CommandError(
                f"`{head}` takes a request id and a link: {head} RB-7K2Q9X https://…"
            )
        return MeetObligationCommand(
            rest[0].upper(), OBLIGATION_COMMANDS[head], check_ticket(rest[1])
        )
    if head == "customers-notified":
        if not rest or not REQUEST_ID.match(rest[0].upper()):
            raise CommandError(
                "`customers-notified` takes a request id and how: customers-notified RB-7K2Q9X status page"
            )
        how = check_reason(" ".join(rest[1:]) or "said so in Slack")
        return MeetObligationCommand(rest[0].upper(), ObligationKind.CUSTOMER_NOTIFICATION, how)
    if head == "approve-retro":
        if len(rest) != 1 or not REQUEST_ID.match(rest[0].upper()):
            raise CommandError("`approve-retro` takes one request id such as RB-7K2Q9X")
        return ApproveRetroactively(rest[0].upper())
    if head in ("history", "drills"):
        if not rest or "/" not in rest[0]:
            raise CommandError(f"`{head}` takes a target such as deployment/api -n prod")
        opts = _options(rest[1:])
        target = target_from(rest[0], opts.get("namespace"), opts.get("env"))
        return ShowHistory(target=target) if head == "history" else ShowDrills(target=target)
    if "/" in head:
        return _open(head, rest)
    raise CommandError(f"unknown subcommand `{head}`")
