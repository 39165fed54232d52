"""Reading figures: totals, explain, compare, series, revisions."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.app import commands, state
from cli.options import AsOf, ByOption, FormatOption, KnownAt, LocationOption
from cli.render import Format, render

app = commands()


@app.command()
def totals(
    ctx: typer.Context,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    location: LocationOption = None,
    by: ByOption = None,
    breakdown: Annotated[
        str | None,
        typer.Option(
            "--breakdown",
            help="Break each figure down by sex, age, cause or origin (with --by admin1, "
            "origin gives the origin-to-destination table).",
        ),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """IDPs per location as of a date, as known at an instant."""
    from cli.views import totals_view
    from projections.service import moment

    when = moment(as_of, known_at)
    render(totals_view(state(ctx).reader().totals(when, location, by, breakdown)), fmt)


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
    from projections.service import moment

    when = moment(as_of, known_at)
    render(explain_view(state(ctx).reader().explain(when, location)), fmt)


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

    render(compare_view(state(ctx).reader().compare(a, b, location, by)), fmt)


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

    result = state(ctx).reader().series(start, end, every, known_at, location, by)
    render(series_view(result), fmt)


@app.command()
def flows(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First day of the period.")],
    end: Annotated[str, typer.Option("--to", help="Last day of the period.")],
    known_at: KnownAt = None,
    location: LocationOption = None,
    by: ByOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """New displacements (and registrations and returns) in a period, with their sources."""
    from cli.views import flows_view

    render(flows_view(state(ctx).reader().flows(start, end, known_at, location, by)), fmt)


@app.command()
def revisions(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Start of the system-time window.")],
    until: Annotated[str | None, typer.Option("--until", help="End (default now).")] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """What corrections and new records recorded in a window changed, figure by figure."""
    from cli.views import revisions_view

    render(revisions_view(state(ctx).reader().revisions(since, until)), fmt)
