"""Reading commands about records and locations: history, locations."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cli.app import app, state
from cli.render import Format, View, render
from cli.write import FormatOption


class _LocationsGroup(TyperGroup):
    """`locations import FILE` is a subcommand, not a search for "import"; options may
    follow QUERY (a group stops parsing options at its first positional argument)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            args = ["", *args]  # an empty QUERY, so click sees the subcommand name
        elif args and not args[0].startswith("-"):
            args = [*args[1:], args[0]]  # `locations QUERY --format json`: options first
        return super().parse_args(ctx, args)


locations_app = typer.Typer(
    cls=_LocationsGroup,
    help="List or search locations; `locations import FILE` adds a p-code list.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(locations_app, name="locations")


@app.command()
def history(
    ctx: typer.Context,
    record_id: Annotated[str, typer.Argument(help="The record whose versions to show.")],
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Every version of a record: what changed, who, when, why."""
    from cli.views import history_view

    ledger = state(ctx).ledger()
    render(history_view(ledger.history(record_id), ledger.locations()), fmt)


@locations_app.callback()
def locations(
    ctx: typer.Context,
    query: Annotated[str | None, typer.Argument(help="Part of a p-code, name or variant.")] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List known locations, or those matching QUERY."""
    if ctx.invoked_subcommand is not None:
        return
    index = state(ctx).ledger().locations()
    found = index.search(query)
    data: list[dict[str, Any]] = [
        {
            "pcode": loc.pcode,
            "name": loc.name,
            "level": loc.level_name,
            "parent": loc.parent,
            "variants": list(loc.variants),
        }
        for loc in found
    ]
    rows = [
        (d["pcode"], d["name"], d["level"], d["parent"], ", ".join(d["variants"])) for d in data
    ]
    render(View(data, ("pcode", "name", "level", "parent", "variants"), rows), fmt)
