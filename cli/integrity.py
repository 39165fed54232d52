"""Tamper-evidence commands: verify, checkpoint, keygen, audit (and explain's --bundle)."""

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
    from ledger.integrity.checkpoint import CheckpointStatement
    from projections.explain import Explanation
    from projections.service import ReadService
    from projections.totals import Moment


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
    log_only: Annotated[
        bool,
        typer.Option(
            "--log-only",
            help="Check the log (chain and Merkle tree) only, not that the read models agree "
            "with it (which costs a rebuild in a scratch database).",
        ),
    ] = False,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
    ] = Format.TABLE,
) -> None:
    """Recompute the event log's hash chain; exit 1 naming the first event that fails.

    Also recomputes the Merkle tree from the chain (every stored node compared) and
    rebuilds the read models from the log in a scratch database to compare them, row for
    row, with the ledger's own (--log-only skips that). The summary line means all of it
    holds; --format json gives the tree's root and what the read models were compared at."""
    from ledger.integrity.checkpoint import check_signature
    from ledger.integrity.errors import ChainBroken

    kept = None
    if checkpoint is not None:
        kept = _checkpoint_file(checkpoint)
        if public_key is not None:
            check_signature(kept, _read(public_key, "public key"), source=str(public_key))
        elif kept.signature is not None:
            note("note: the checkpoint is signed; give --public-key to check the signature")
    elif public_key is not None:
        raise typer.BadParameter("--public-key needs --checkpoint", param_hint="--public-key")
    result = _log(ctx).verify(kept.checkpoint if kept else None, kept.root if kept else None)
    agreement = None
    if result.problem is None and not log_only:
        from projections.agreement import compare_read_models

        agreement = compare_read_models(state(ctx).db)
    if fmt is Format.JSON:
        problem = None
        if result.problem is not None:
            problem = {
                "kind": result.problem.kind,
                "position": result.problem.position,
                "message": result.problem.message,
            }
        elif agreement is not None and agreement.problem is not None:
            problem = {
                "kind": "read model altered",
                "position": agreement.position,
                "message": agreement.problem,
            }
        data = {
            "intact": problem is None,
            "events_checked": result.events_checked,
            "head": result.head.as_dict(),
            "tree": None
            if result.tree_root is None
            else {
                "size": result.head.position,
                "root": result.tree_root,
                "stored": result.tree_stored,
            },
            "read_models": agreement.to_json() if agreement and agreement.compared else None,
            "checkpoint": kept.checkpoint.as_dict() if kept else None,
            "problem": problem,
        }
        typer.echo(json.dumps(data))
    if result.problem is not None:
        raise ChainBroken(result.problem.message)
    if agreement is not None and agreement.problem is not None:
        from projections.agreement import ReadModelsDisagree

        raise ReadModelsDisagree(agreement.problem)
    if fmt is not Format.JSON:
        typer.echo(
            f"intact: {result.events_checked} events checked; head position "
            f"{result.head.position}, hash {result.head.head_hash}"
        )
        if not result.tree_stored:
            note("note: the ledger keeps no Merkle tree yet; `dledger init` adds it")
        if agreement is not None and not agreement.compared:
            note("note: the ledger has no read models yet: there was nothing to compare")
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
    since: Annotated[
        Path | None,
        typer.Option(
            "--since",
            dir_okay=False,
            help="An earlier checkpoint: print a consistency proof from it (JSON).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", dir_okay=False, help="Write to this new file, not stdout."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Print the chain head as a small portable text, optionally signed; keep it elsewhere."""
    from dataclasses import replace

    from ledger.integrity.checkpoint import sign

    if out is not None:
        from ledger.files import check_output

        check_output(out, force=force, inputs=[p for p in (key, since) if p is not None])
    log = _log(ctx)
    if since is None:
        taken = log.statement()
        if key is not None:
            taken = sign(taken, _read(key, "private key"), source=str(key))
        text, position = taken.text(), taken.checkpoint.position
    else:
        proved = log.consistency(_checkpoint_file(since))
        if key is not None:
            proved = replace(proved, new=sign(proved.new, _read(key, "private key"), str(key)))
        text = json.dumps(proved.to_json(), indent=2) + "\n"
        position = proved.new.checkpoint.position
    if out is None:
        typer.echo(text, nl=False)
    else:
        _write_new(out, text.encode("utf-8"), force=force)
        what = "checkpoint" if since is None else "checkpoint and consistency proof"
        note(f"{what} at position {position} written to {out}")


def _checkpoint_file(path: Path) -> CheckpointStatement:
    from ledger.integrity.checkpoint import parse_checkpoint
    from ledger.integrity.errors import InvalidCheckpoint

    try:
        text = _read(path, "checkpoint").decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidCheckpoint(f"{path} is not UTF-8 text") from None
    return parse_checkpoint(text, source=str(path))


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


def write_bundle(
    reader: ReadService,
    when: Moment,
    location: str,
    path: str,
    key: str | None,
    *,
    force: bool,
) -> Explanation:
    """Write the audit bundle of ``location``'s figure (``explain --bundle``), signed with
    ``key`` if given; the explanation it holds."""
    from ledger.files import check_output, written
    from ledger.integrity.checkpoint import sign
    from projections.bundle import build_bundle

    out, key_file = Path(path), Path(key) if key is not None else None
    check_output(out, force=force, inputs=[key_file] if key_file else [])
    private = _read(key_file, "private key") if key_file is not None else None
    made = build_bundle(reader, when, location)
    checkpoint = made.checkpoint
    if private is not None and key_file is not None:
        checkpoint = sign(checkpoint, private, source=str(key_file))
    data = json.dumps({**made.content, "checkpoint": checkpoint.text()}, ensure_ascii=False)
    with written(out, force=force, inputs=[key_file] if key_file else []) as handle:
        handle.write(data + "\n")
    signed = f", signed with key {checkpoint.key_id}" if checkpoint.key_id else ", unsigned"
    note(
        f"audit bundle written to {out}: {made.events} events at log position "
        f"{checkpoint.checkpoint.position}{signed}; check it with `dledger audit {out}`"
    )
    return made.explanation


@app.command()
def audit(
    file: Annotated[
        Path,
        typer.Argument(dir_okay=False, help="An audit bundle, consistency proof or checkpoint."),
    ],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", dir_okay=False, help="Check signatures with this key."),
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
    ] = Format.TABLE,
) -> None:
    """Check an audit bundle or a consistency proof offline, without the ledger."""
    from ledger.integrity.audit import PublicKey
    from ledger.integrity.audit import audit as check

    key = None
    if public_key is not None:
        key = PublicKey(_read(public_key, "public key"), str(public_key))
    report = check(_read(file, "file"), str(file), key)
    if fmt is Format.JSON:
        typer.echo(json.dumps(report.to_json()))
        return
    typer.echo(report.headline)
    for line in report.checked:
        typer.echo(f"  {line}")
