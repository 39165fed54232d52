"""Reading figures: totals and explain."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.app import app, state
from cli.render import Format, View, render
from cli.write import FormatOption

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Valid date the figures describe (default today).")
]
KnownAt = Annotated[
    str | None,
    typer.Option("--known-at", help="What the ledger held at this instant (default now)."),
]
LocationOption = Annotated[
    str | None, typer.Option("--location", help="P-code or name (default: every country).")
]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Break down by country, admin1 or admin2.")
]


def reader(ctx: typer.Context) -> Any:
    from projections.reader import Reader

    return Reader(state(ctx).ledger())


@app.command()
def totals(
    ctx: typer.Context,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    location: LocationOption = None,
    by: ByOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """IDPs per location as of a date, as known at an instant."""
    from cli.views import totals_view
    from projections.reader import Moment

    moment = Moment.parse(as_of, known_at)
    render(totals_view(reader(ctx).totals(moment, location, by)), fmt)


@app.command()
def explain(
    ctx: typer.Context,
    location: Annotated[str, typer.Argument(help="P-code or name of the location.")],
    as_of: AsOf = None,
    known_at: KnownAt = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """How a figure was derived: baseline, flows, corrections, arithmetic, sources."""
    from cli.views import explain_view
    from projections.reader import Moment

    moment = Moment.parse(as_of, known_at)
    render(explain_view(reader(ctx).explain(moment, location)), fmt)


@app.command()
def compare(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="A date or a snapshot name.")],
    b: Annotated[str, typer.Argument(help="A date or a snapshot name.")],
    location: LocationOption = None,
    by: ByOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Two dates or snapshots side by side, in total and per row."""
    from cli.views import compare_view
    from projections.timeline import compare as compare_figures

    render(compare_view(compare_figures(reader(ctx), a, b, location, by)), fmt)


@app.command()
def series(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First date.")],
    end: Annotated[str, typer.Option("--to", help="Last date.")],
    every: Annotated[str, typer.Option("--every", help="month, quarter or year.")] = "month",
    known_at: KnownAt = None,
    location: LocationOption = None,
    by: ByOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Totals at the end of each month, quarter or year between two dates."""
    from cli.views import series_view
    from projections.timeline import series as figure_series

    result = figure_series(reader(ctx), start, end, every, known_at, location, by)
    render(series_view(result), fmt)


@app.command()
def revisions(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Start of the system-time window.")],
    until: Annotated[str | None, typer.Option("--until", help="End (default now).")] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """What corrections and new records recorded in a window changed, figure by figure."""
    from cli.views import revisions_view
    from projections.timeline import revisions as figure_revisions

    render(revisions_view(figure_revisions(reader(ctx), since, until)), fmt)


@app.command()
def rebuild(ctx: typer.Context) -> None:
    """Drop every read model and replay the whole event log."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from cli.app import note
    from projections.catchup import FigureProjection, log_head

    ledger = state(ctx).ledger()
    projection = FigureProjection(ledger)
    with Progress(
        TextColumn("rebuilding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeRemainingColumn(),
        transient=True,
        redirect_stdout=False,
        console=_stderr_console(),
    ) as bar:
        task = bar.add_task("rebuild", total=log_head(ledger))
        done = projection.rebuild(lambda n: bar.advance(task, n))
    note(f"rebuilt the read models from {done.applied} events (log position {done.position})")
    note(f"figure table checksum {projection.checksum()}")


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


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
    from cli.views import snapshot_view
    from projections.timeline import keep_snapshot

    render(snapshot_view(keep_snapshot(reader(ctx), name, as_of, known_at, location, by)), fmt)


@snapshot_app.command("list")
def snapshot_list(ctx: typer.Context, fmt: FormatOption = Format.TABLE) -> None:
    """Every kept snapshot."""
    from projections.timeline import list_snapshots

    kept = list_snapshots(reader(ctx))
    columns = ("name", "as_of", "known_at", "position", "location", "by", "actor", "created_at")
    render(View(kept, columns, [tuple(k[c] for c in columns) for k in kept]), fmt)


@snapshot_app.command("show")
def snapshot_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The snapshot's name.")],
    fmt: FormatOption = Format.TABLE,
) -> None:
    """A kept snapshot, exactly as it was computed."""
    from cli.views import snapshot_view
    from projections.timeline import show_snapshot

    render(snapshot_view(show_snapshot(reader(ctx), name)), fmt)
