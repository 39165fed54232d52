"""Snapshots (named, frozen results) and rebuilding the read models."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.app import commands, note, state
from cli.options import ByOption, FormatOption, KnownAt, LocationOption
from cli.render import Format, render

app = commands()
snapshot_app = typer.Typer(
    help="Named, frozen results that later corrections do not change.", rich_markup_mode=None
)
app.add_typer(snapshot_app, name="snapshot")


@snapshot_app.command("create")
def snapshot_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A new name (letters, digits, . _ -).")],
    as_of: Annotated[str, typer.Option("--as-of", help="Valid date of the figures.")],
    known_at: KnownAt = None,
    location: LocationOption = None,
    by: ByOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Compute totals and keep them under NAME."""
    from cli.record_views import snapshot_view
    from ledger.snapshots import check_name
    from projections.service import moment

    check_name(name)
    st = state(ctx)
    reader = st.reader()
    when = moment(as_of, known_at)
    result: dict[str, Any] = reader.totals(when, location, by).to_json()
    result["checkpoint"] = reader.checkpoint().as_dict()
    st.ledger().keep_snapshot(
        name=name,
        as_of=when.as_of.isoformat(),
        known_at=when.known_at.isoformat(),
        position=reader.position,
        location=location,
        by=by,
        result=result,
    )
    reader.refresh()
    render(snapshot_view(reader.snapshot(name)), fmt)


@snapshot_app.command("list")
def snapshot_list(ctx: typer.Context, fmt: FormatOption = Format.TABLE) -> None:
    """Every kept snapshot."""
    from cli.record_views import snapshots_view

    render(snapshots_view(state(ctx).reader().snapshots()), fmt)


@snapshot_app.command("show")
def snapshot_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The snapshot's name.")],
    fmt: FormatOption = Format.TABLE,
) -> None:
    """A kept snapshot, exactly as it was computed."""
    from cli.record_views import snapshot_view

    render(snapshot_view(state(ctx).reader().snapshot(name)), fmt)


@snapshot_app.command("sign")
def snapshot_sign(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The snapshot to sign off.")],
    key: Annotated[
        Path | None,
        typer.Option(
            "--key", dir_okay=False, help="Ed25519 private key (from keygen) to sign with."
        ),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Sign off a snapshot: it becomes a release (who, when, its chain checkpoint)."""
    from datetime import UTC, datetime

    from cli.record_views import snapshot_view
    from ledger.chain import open_log
    from ledger.signoff import signed, statement

    st = state(ctx)
    reader = st.reader()
    kept = reader.snapshot(name)  # a missing snapshot is refused before anything is read
    private = key.read_bytes() if key is not None else None
    log = open_log(st.db)
    try:
        checkpoint = log.at_position(kept.summary.position)
    finally:
        log.close()
    at = datetime.now(UTC)
    text = statement(
        kept.summary.name, kept.summary.as_of, kept.summary.known_at, checkpoint, kept.result,
        st.actor, at,
    )  # fmt: skip
    signature, public = signed(text, private, str(key)) if private is not None else (None, None)
    st.ledger().sign_snapshot(
        name, actor=st.actor, at=at.isoformat(), checkpoint=checkpoint.as_dict(),
        statement=text, signature=signature, public_key=public,
    )  # fmt: skip
    reader.refresh()
    render(snapshot_view(reader.snapshot(name)), fmt)


@app.command()
def rebuild(ctx: typer.Context) -> None:
    """Drop every read model and replay the whole event log."""
    from projections.service import open_projection

    projection = open_projection(state(ctx).db)
    try:
        with _progress_bar(projection.head()) as advance:
            done = projection.rebuild(advance)
        note(f"rebuilt the read models from {done.applied} events (log position {done.position})")
        note(f"figure table checksum {projection.checksum()}")
    finally:
        projection.conn.close()


@contextmanager
def _progress_bar(total: int) -> Iterator[Callable[[int], None] | None]:
    """A bar on stderr when it is a terminal (nothing otherwise)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("rebuilding"), BarColumn(), MofNCompleteColumn(), TextColumn("events"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("rebuild", total=total)
        yield lambda n: bar.advance(task, n)
