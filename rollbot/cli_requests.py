"""`rollbot requests list | show`: rollback requests from a terminal, as `helm history` shows
releases. Reads ROLLBOT_DATABASE_URL only; never writes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from bot.domain.errors import DomainError
from bot.domain.request import RequestState, RollbackRequest
from rollbot.cli_support import fail, on_database

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.usecases.request_records import RequestRecord, RequestRecords

requests_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Rollback requests as rollbot stored them. Reads ROLLBOT_DATABASE_URL.",
)
_STATES = ", ".join(s.value for s in RequestState)


def _reader(engine: AsyncEngine) -> RequestRecords:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bot.audit.keys import AuditSigner
    from bot.store.uow import UnitOfWorkFactory
    from bot.usecases.request_records import RequestRecords

    # Reading only: the signer is never asked to sign anything.
    return RequestRecords(UnitOfWorkFactory(engine, AuditSigner(Ed25519PrivateKey.generate())))


def _row(r: RollbackRequest) -> list[str]:
    return [
        r.id,
        r.state.value,
        r.target.label,
        r.assessment.severity.value,
        f"{r.baseline_revision or '?'} → {r.to_revision or '—'}",
        f"{r.created_at:%Y-%m-%d %H:%M} UTC",
        r.requester.label,
    ]


def _table(rows: list[list[str]]) -> str:
    head = ["ID", "STATE", "TARGET", "SEVERITY", "REVISION", "OPENED", "REQUESTER"]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [head, *rows]
    )


@requests_app.command("list")
def requests_list(
    state: Annotated[str | None, typer.Option(help=f"Only this state: {_STATES}")] = None,
    target: Annotated[
        str | None, typer.Option(help="Only this target, e.g. deployment/api (with -n)")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="The target's namespace")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 50,
    output: Annotated[str, typer.Option("--output", "-o", help="table or json")] = "table",
) -> None:
    """The newest requests first: id, state, target, severity, revisions, when, who asked."""
    from bot.domain.targets import target_from

    if output not in ("table", "json"):
        raise fail(f"-o takes table or json, not {output!r}")
    try:
        wanted = RequestState(state) if state is not None else None
    except ValueError:
        raise fail(f"--state takes one of {_STATES}, not {state!r}") from None
    try:
        chosen = target_from(target, namespace) if target is not None else None
    except DomainError as exc:
        raise fail(str(exc)) from None

    async def work(engine: AsyncEngine) -> list[RollbackRequest]:
        return await _reader(engine).listed(state=wanted, target=chosen, limit=limit)

    found = on_database(work)
    if output == "json":
        typer.echo(json.dumps([json.loads(r.model_dump_json()) for r in found], indent=2))
    elif not found:
        typer.echo("no rollback requests match")
    else:
        typer.echo(_table([_row(r) for r in found]))


@requests_app.command("show")
def requests_show(
    request_id: Annotated[str, typer.Argument(help="The request's id, e.g. RB-7K2Q9M")],
    output: Annotated[str, typer.Option("--output", "-o", help="text or json")] = "text",
) -> None:
    """One request whole: state, target, approvals, outcome, evidence hash, and every step."""
    if output not in ("text", "json"):
        raise fail(f"-o takes text or json, not {output!r}")

    async def work(engine: AsyncEngine) -> RequestRecord | None:
        try:
            return await _reader(engine).record(request_id)
        except DomainError:  # an id that was never opened
            return None

    record = on_database(work)
    if record is None:
        raise fail(f"no request {request_id}: `rollbot requests list` shows them", 3)
    if output == "json":
        typer.echo(record.model_dump_json(indent=2))
        return
    r = record.request
    approvals = ", ".join(f"{a.by.label} ({a.role.value})" for a in r.approvals) or "none"
    lines = [
        f"{r.id} · {r.state.value} · {r.target.label} · {r.assessment.severity.value}",
        f"reason:    {r.reason}",
        f"revision:  {r.baseline_revision or '?'} → {r.to_revision or '—'}",
        f"requested: {r.requester.label} at {r.created_at:%Y-%m-%d %H:%M:%S} UTC",
        f"approvals: {approvals}",
        f"outcome:   {r.outcome or '—'}",
        f"evidence:  sha256 {record.evidence_sha256}" if record.evidence_sha256 else "evidence:  —",
        "",
        "steps:",
        *(
            f"  {s.at:%H:%M:%S}  #{s.seq:<5} {s.action:<28} {s.actor}"
            + (
                "  " + " ".join(f"{k}={v}" for k, v in s.details.items() if k != "version")
                if s.details
                else ""
            )
            for s in record.steps
        ),
    ]
    typer.echo("\n".join(lines))
