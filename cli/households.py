"""The household-size table: `household-size set` and `household-size list`."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.app import commands, note, state
from cli.options import FormatOption
from cli.render import Format, View, render

app = commands()
sizes_app = typer.Typer(
    help="Household sizes by country and year: what converts households to individuals.",
    rich_markup_mode=None,
)
app.add_typer(sizes_app, name="household-size")
COLUMNS = ("country", "year", "size", "source", "actor", "set_at")


@sizes_app.command("set")
def size_set(
    ctx: typer.Context,
    country: Annotated[str, typer.Argument(help="The country (p-code or name).")],
    year: Annotated[str, typer.Option("--year", help="The year the size is for.")],
    size: Annotated[str, typer.Option("--size", help="People per household, e.g. 5.2.")],
    source: Annotated[str, typer.Option("--source", help="Who published the size.")],
) -> None:
    """Set a country's household size for a year; corrects the figures it converts."""
    st = state(ctx)
    converted = st.reader().converted_records(country)
    for written in st.ledger().set_household_size(country, year, size, source, converted):
        note(f"corrected {written.record_id} (now version {written.version})")
    note(f"household size for {country} {year} set to {size}")


@sizes_app.command("list")
def size_list(
    ctx: typer.Context,
    country: Annotated[str | None, typer.Argument(help="Only this country.")] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Every household size set, by country and year."""
    found = state(ctx).reader().household_sizes(country)
    rows = [tuple(str(s[c]) if c == "year" else s[c] for c in COLUMNS) for s in found]
    render(View(found, COLUMNS, rows), fmt)
