"""Records and locations: history, locations (and `locations import`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from cli.app import commands, note, state
from cli.options import FormatOption
from cli.render import Format, render

app = commands()


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
    from cli.record_views import history_view

    render(history_view(state(ctx).reader().history(record_id)), fmt)


@locations_app.callback()
def locations(
    ctx: typer.Context,
    query: Annotated[str | None, typer.Argument(help="Part of a p-code, name or variant.")] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List known locations, or those matching QUERY."""
    from cli.record_views import locations_view

    if ctx.invoked_subcommand is not None:
        return
    render(locations_view(state(ctx).reader().locations(query)), fmt)


@locations_app.command("import")
def locations_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="An OCHA-style HXL p-code list.")],
) -> None:
    """Register the locations of a p-code list (new names of known p-codes become variants)."""
    from ledger.reference import read_pcode_list

    locations = read_pcode_list(file)
    added = state(ctx).ledger().register_locations(locations, source=f"p-code list {file.name}")
    note(f"{file.name}: {len(locations)} locations read, {len(added)} new or changed")


@locations_app.command("correct")
def locations_correct(
    ctx: typer.Context,
    location: Annotated[str, typer.Argument(help="P-code or name of the location.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is corrected.")],
    name: Annotated[str | None, typer.Option("--name", help="Its name.")] = None,
    level: Annotated[str | None, typer.Option("--level", help="country, admin1...")] = None,
    parent: Annotated[str | None, typer.Option("--parent", help="Its parent.")] = None,
) -> None:
    """Correct a location's name, level or parent (the change is an event, with a reason)."""
    corrected = (
        state(ctx)
        .ledger()
        .correct_location(location, reason, name=name, level=level, parent=parent)
    )
    note(f"{corrected.pcode} is now {corrected.name} ({corrected.level_name} under "
         f"{corrected.parent or 'nothing'})")  # fmt: skip


@locations_app.command("history")
def locations_history(
    ctx: typer.Context,
    location: Annotated[str, typer.Argument(help="P-code or name of the location.")],
    fmt: FormatOption = Format.TABLE,
) -> None:
    """What was done to a location: registered, variants added, corrected (who, why)."""
    from cli.record_views import location_history_view

    render(location_history_view(state(ctx).reader().location_history(location)), fmt)
