"""`rollbot evidence …`: what an auditor runs on evidence copied out of the store, with no
database and no access to rollbot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rollbot.cli_support import fail

evidence_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Evidence packs and their signed addenda, checked offline.",
)


@evidence_app.command("verify-addendum")
def verify_addendum_command(
    addendum: Annotated[Path, typer.Argument(help="The addendum.json file")],
    pack: Annotated[Path, typer.Option(help="The evidence pack (.tar.gz) it adds to")],
    public_key: Annotated[
        Path, typer.Option(help="The audit public key (PEM); `rollbot audit public-key` prints it")
    ],
) -> None:
    """Check an addendum's signature, that it adds to this pack (by sha256), and that every file
    it lists, beside it in its folder, is unchanged. Exit 1 on the first problem found."""
    import json

    from bot.audit.addendum import verify_addendum
    from bot.audit.keys import AuditKeyError, load_public_key

    for path in (addendum, pack, public_key):
        if not path.is_file():
            raise fail(f"{path} does not exist")
    try:
        key = load_public_key(public_key.read_bytes())
    except (AuditKeyError, ValueError) as exc:
        raise fail(f"{public_key} is not an audit public key: {exc}") from None
    folder = addendum.parent
    files = {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p != addendum
    }
    data = addendum.read_bytes()
    problems = verify_addendum(data, pack=pack.read_bytes(), public_key=key, files=files)
    if problems:
        for line in problems:
            typer.echo(f"NOT VERIFIED: {line}")
        raise typer.Exit(1)
    statement = json.loads(data)["statement"]
    typer.echo(
        f"verified: the {statement['kind']} addendum of {statement['request_id']}, recorded "
        f"{statement['recorded_at']}, adds to the pack with sha256 {statement['pack']['sha256']} "
        f"and vouches for {len(statement['files'])} file(s)"
    )
