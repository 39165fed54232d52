"""Tamper-evidence commands: verify, checkpoint, keygen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.app import commands, note, state
from cli.render import Format

app = commands()

if TYPE_CHECKING:
    from ledger.chain import Log


def _log(ctx: typer.Context) -> Log:
    """The ledger's log (closed when the command ends)."""
    from ledger.chain import open_log

    log = open_log(state(ctx).db)
    ctx.call_on_close(log.close)
    return log


def _read(path: Path, what: str) -> bytes:
    from ledger.integrity.errors import KeyFileProblem

    try:
        return path.read_bytes()
    except OSError as error:
        raise KeyFileProblem(f"cannot read {what} {path}: {error.strerror}") from None


def _write_new(path: Path, data: bytes, *, force: bool, mode: int = 0o644) -> None:
    """Write a key or checkpoint file (an existing one only with --force), whole or not at all."""
    from ledger.files import written

    with written(path, force=force, binary=True, mode=mode) as handle:
        handle.write(data)


@app.command()
def verify(
    ctx: typer.Context,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", dir_okay=False, help="Also prove this checkpoint holds."),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", dir_okay=False, help="Check the checkpoint's signature."),
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
    ] = Format.TABLE,
) -> None:
    """Recompute the event log's hash chain; exit 1 naming the first event that fails."""
    from ledger.integrity.checkpoint import check_signature, parse_checkpoint
    from ledger.integrity.errors import ChainBroken, InvalidCheckpoint

    kept = None
    if checkpoint is not None:
        try:
            text = _read(checkpoint, "checkpoint").decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidCheckpoint(f"{checkpoint} is not UTF-8 text") from None
        kept = parse_checkpoint(text, source=str(checkpoint))
        if public_key is not None:
            check_signature(kept, _read(public_key, "public key"), source=str(public_key))
        elif kept.signature is not None:
            note("note: the checkpoint is signed; give --public-key to check the signature")
    elif public_key is not None:
        raise typer.BadParameter("--public-key needs --checkpoint", param_hint="--public-key")
    result = _log(ctx).verify(kept.checkpoint if kept else None)
    if fmt is Format.JSON:
        data = {
            "intact": result.intact,
            "events_checked": result.events_checked,
            "head": result.head.as_dict(),
            "checkpoint": kept.checkpoint.as_dict() if kept else None,
            "problem": None
            if result.problem is None
            else {
                "kind": result.problem.kind,
                "position": result.problem.position,
                "message": result.problem.message,
            },
        }
        typer.echo(json.dumps(data))
    if result.problem is not None:
        raise ChainBroken(result.problem.message)
    if fmt is not Format.JSON:
        typer.echo(
            f"intact: {result.events_checked} events checked; head position "
            f"{result.head.position}, hash {result.head.head_hash}"
        )
        if kept is not None:
            signed = " (signature checked)" if public_key is not None else ""
            typer.echo(f"checkpoint at position {kept.checkpoint.position} holds{signed}")


@app.command("checkpoint")
def checkpoint_command(
    ctx: typer.Context,
    key: Annotated[
        Path | None,
        typer.Option("--key", dir_okay=False, help="Sign with this Ed25519 private key."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", dir_okay=False, help="Write to this new file, not stdout."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Print the chain head as a small portable text, optionally signed; keep it elsewhere."""
    from ledger.integrity.checkpoint import sign

    taken = _log(ctx).statement()
    if key is not None:
        taken = sign(taken, _read(key, "private key"), source=str(key))
    if out is None:
        typer.echo(taken.text(), nl=False)
    else:
        _write_new(out, taken.text().encode("utf-8"), force=force)
        note(f"checkpoint at position {taken.checkpoint.position} written to {out}")


@app.command()
def keygen(
    out: Annotated[
        Path,
        typer.Option(
            "--out", dir_okay=False, help="Private key file; the public key goes to FILE.pub."
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace existing key files.")] = False,
) -> None:
    """Write a new Ed25519 key pair for signing checkpoints (private key file + .pub)."""
    from ledger.files import check_output
    from ledger.integrity.checkpoint import generate_key_pair

    private_pem, public_pem = generate_key_pair()
    public_path = out.with_name(out.name + ".pub")
    check_output(public_path, force=force)  # both refused before either is written
    _write_new(out, private_pem, force=force, mode=0o600)
    _write_new(public_path, public_pem, force=force)
    note(f"private key written to {out} (keep it secret); public key to {public_path}")
