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
