"""`rollbot audit …`: keys, verification and export of the tamper-evident audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from bot.audit.keys import AuditKeyError
from bot.config.settings import DatabaseSettings, variables_read
from rollbot.cli_support import fail, on_database, public_key_of, read_only_evidence_store

audit_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="The tamper-evident audit log. " + variables_read(DatabaseSettings),
)


@audit_app.command("keygen")
def audit_keygen(
    out: Annotated[Path | None, typer.Option(help="Write the private key here (mode 0600)")] = None,
    print_key: Annotated[
        bool, typer.Option(help="Print the base64 private key instead, for a secret store")
    ] = False,
) -> None:
    """Make a new Ed25519 audit signing key; print its public key and fingerprint."""
    import base64
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bot.audit.chain import key_id
    from bot.audit.keys import public_pem

    if (out is None) == (not print_key):
        raise fail("say where the key goes: --out FILE, or --print-key")
    key = Ed25519PrivateKey.generate()
    if out is not None:
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise fail(f"{out} exists; rollbot never overwrites a key") from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        typer.echo(f"private key written to {out} (mode 0600): set ROLLBOT_AUDIT_KEY_FILE={out}")
    else:
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        typer.echo(f"ROLLBOT_AUDIT_SIGNING_KEY={base64.b64encode(raw).decode()}")
    typer.echo(f"fingerprint {key_id(key.public_key())}; public key for auditors:")
    typer.echo(public_pem(key.public_key()).decode().rstrip())


@audit_app.command("rotate-key")
def audit_rotate_key(
    new: Annotated[Path, typer.Option(help="The new private key file (from audit keygen)")],
) -> None:
    """Introduce a new signing key: a rotation entry signed by the configured key and the new
    one, and the head signed with the new key. Then configure the new key everywhere."""
    from bot.audit.chain import key_id
    from bot.audit.keys import load_signing_key
    from bot.usecases.audit_keys import rotate_key

    ops = DatabaseSettings()
    try:
        old = load_signing_key(key_b64=ops.audit_signing_key, path=ops.audit_key_file, create=False)
        fresh = load_signing_key(key_b64=None, path=new, create=False)
    except AuditKeyError as exc:
        raise fail(str(exc)) from None
    seq = on_database(lambda engine: rotate_key(engine, old, fresh, datetime.now(UTC)))
    typer.echo(
        f"key {key_id(old.public_key())} handed over to {key_id(fresh.public_key())} at seq "
        f"{seq}; configure {new} for every rollbot process now"
    )


@audit_app.command("verify")
def audit_verify(
    export: Annotated[
        Path | None, typer.Option(help="Verify this export instead of the database")
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(help="A public key (PEM) you trust; give it again for each key"),
    ] = None,
    trust_bundle_key: Annotated[
        bool, typer.Option(help="Verify an export with the key inside it (proves less)")
    ] = False,
    anchors: Annotated[
        bool,
        typer.Option(help="Also compare the checkpoints with their anchors in the evidence store"),
    ] = False,
) -> None:
    """Walk the hash chain, check every hash and signed checkpoint; exit 1 at the first bad entry."""
    from bot.audit.keys import load_public_key
    from bot.usecases.anchors import verify_anchors
    from bot.usecases.audit_export import verify_bundle, verify_database

    if export is not None:
        if public_key is None and not trust_bundle_key:
            # whoever re-signed a doctored bundle replaced the key inside it as well
            raise fail(
                "verifying an export needs the public key you trust: --public-key FILE.pem "
                "(`rollbot audit public-key` on the running system prints it); "
                "--trust-bundle-key uses the bundle's own key instead"
            )
        pinned = load_public_key(public_key[0].read_bytes()) if public_key else None
        verdict = verify_bundle(export, pinned)
        if pinned is None:
            typer.echo(
                "Trusted the public key inside the bundle: this shows the bundle is consistent, "
                "not that rollbot signed it"
            )
    else:
        keys = [public_key_of(p) for p in public_key] if public_key else [public_key_of(None)]
        verdict = on_database(lambda engine: verify_database(engine, keys))
        if anchors and verdict.ok:
            anchored = on_database(
                lambda engine: verify_anchors(engine, read_only_evidence_store(), keys)
            )
            typer.echo(verdict.render())
            typer.echo(anchored.render())
            raise typer.Exit(0 if anchored.ok else 1)
    typer.echo(verdict.render())
    raise typer.Exit(0 if verdict.ok else 1)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option(help="Where to write the .tar.gz bundle")],
    since: Annotated[datetime | None, typer.Option(help="First moment included (UTC)")] = None,
    until: Annotated[datetime | None, typer.Option(help="First moment excluded (UTC)")] = None,
) -> None:
    """Export entries, checkpoints, the public key and a README on verifying them without rollbot."""
    from bot.usecases.audit_export import export_bundle

    key = public_key_of(None)

    def utc(moment: datetime | None) -> datetime | None:
        return None if moment is None else moment.replace(tzinfo=moment.tzinfo or UTC)

    summary = on_database(
        lambda engine: export_bundle(engine, key, out, since=utc(since), until=utc(until))
    )
    typer.echo(
        f"exported {summary.entries} entries and {summary.checkpoints} checkpoints to {summary.path}"
    )


@audit_app.command("public-key")
def audit_public_key() -> None:
    """Print the PEM public key that verifies this deployment's checkpoints."""
    from bot.audit.keys import public_pem

    typer.echo(public_pem(public_key_of(None)).decode().rstrip())
