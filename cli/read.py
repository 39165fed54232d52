"""Reading commands about records and locations: history, locations."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cli.app import app, state
from cli.render import Format, View, render
from cli.write import FormatOption


class QueryOrSubcommand(TyperGroup):
    """A group with an optional QUERY argument and subcommands (`locations import FILE`).

    A plain group would take a subcommand's name as the QUERY; here a first word that
    names a subcommand runs that subcommand.
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if args and args[0] in self.commands:
            super().parse_args(ctx, [])
            ctx._protected_args, ctx.args = args[:1], args[1:]
            return ctx.args
        return super().parse_args(ctx, args)


locations_app = typer.Typer(
    cls=QueryOrSubcommand,
    help="List or search locations; `locations import FILE` adds a p-code list.",
    rich_markup_mode=None,
    invoke_without_command=True,
    no_args_is_help=False,
    # a group stops parsing options at its first argument: without this,
    # `locations QUERY --format csv` was a usage error ("No such command '--format'")
    context_settings={"allow_interspersed_args": True},
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
    from projections.reader import Reader, record_history

    ledger = state(ctx).ledger()
    versions = ledger.history(record_id)
    table = record_history(Reader(ledger), record_id)
    until = {
        row.version: row.current_until.isoformat() if row.current_until else None for row in table
    }
    render(history_view(versions, ledger.locations(), until), fmt)


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
