"""Writing commands: init, record, correct, retract."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from cli.app import commands, note, state
from cli.options import FormatOption
from cli.render import Format
from ledger.breakdowns import dimension_of, from_options
from ledger.errors import InvalidInput

T = TypeVar("T")

app = commands()

BreakdownOption = Annotated[
    list[str] | None,
    typer.Option(
        "--breakdown",
        help="DIM:VALUE=N, repeatable: the individuals by sex (female, male), age band "
        "(0-4, 5-17, 18-59, 60+), cause, or origin (a location).",
    ),
]


QuantifierOption = Annotated[
    str | None,
    typer.Option(
        "--quantifier", help="exact (the default), approximately, more-than or less-than."
    ),
]


def _checked(parse: Callable[[Any], T], value: Any) -> T:
    try:
        return parse(value)
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def _breakdowns(options: list[str] | None) -> dict[str, dict[str, str]]:
    return _checked(from_options, options or [])


def _print_written(record_id: str, version: int | None, fmt: Format) -> None:
    if fmt is Format.JSON:
        data: dict[str, object] = {"record_id": record_id}
        if version is not None:
            data["version"] = version
        typer.echo(json.dumps(data))
    elif version is None:
        typer.echo(record_id)
    else:
        typer.echo(f"{record_id} {version}")


@app.command()
def init(
    ctx: typer.Context,
    writer_role: Annotated[
        str | None,
        typer.Option(
            "--writer-role",
            help="PostgreSQL: also create (or update) this login role, which may only append "
            "to the log (INSERT and SELECT); password from DLEDGER_WRITER_PASSWORD, if set.",
        ),
    ] = None,
    reader_role: Annotated[
        str | None,
        typer.Option(
            "--reader-role",
            help="PostgreSQL: also create (or update) this login role, which may only read "
            "the log (for `serve`); password from DLEDGER_READER_PASSWORD, if set.",
        ),
    ] = None,
) -> None:
    """Create the ledger's tables and register the shipped Mali p-code list."""
    import os

    from ledger.integrity.roles import check_target, grant_roles, roles_of
    from ledger.reference import mali_locations
    from ledger.storage import open_ledger
    from ledger.targets import safe_target

    st = state(ctx)
    roles = roles_of(writer_role, reader_role, os.environ)
    check_target(st.db, roles)
    ledger = st.adopt(open_ledger(st.db, actor=st.actor, create=True))
    added = ledger.register_locations(mali_locations(), source="OCHA COD Mali p-codes (shipped)")
    note(f"ledger ready at {safe_target(st.db)} ({len(added)} locations registered)")
    if roles:
        from projections.schema import TABLES
        from projections.service import open_projection

        open_projection(st.db).conn.close()  # the read-model tables, to grant rows of them
        for line in grant_roles(st.db, roles, [table.name for table in TABLES]):
            note(line)


@app.command()
def record(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="assessment, registration or return.")],
    location: Annotated[str, typer.Option("--location", help="P-code or name.")],
    date: Annotated[str, typer.Option("--date", help="YYYY-MM-DD, YYYY-MM or YYYY.")],
    source: Annotated[str, typer.Option("--source", help="Who published the figure.")],
    individuals: Annotated[
        str | None,
        typer.Option(
            "--individuals", help="Number of people (without it, --households are converted)."
        ),
    ] = None,
    households: Annotated[
        str | None, typer.Option("--households", help="Number of households, if known.")
    ] = None,
    report: Annotated[str | None, typer.Option("--report", help="Report or dataset title.")] = None,
    source_url: Annotated[str | None, typer.Option("--source-url")] = None,
    published_on: Annotated[str | None, typer.Option("--published-on")] = None,
    round_: Annotated[str | None, typer.Option("--round", help="Assessment round.")] = None,
    origin: Annotated[str | None, typer.Option("--origin", help="Where people came from.")] = None,
    cause: Annotated[str | None, typer.Option("--cause")] = None,
    note_: Annotated[str | None, typer.Option("--note")] = None,
    breakdown: BreakdownOption = None,
    role: Annotated[
        str | None,
        typer.Option("--role", help="recommended (counted; the default) or triangulation."),
    ] = None,
    quantifier: QuantifierOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Record a figure; prints the new record's id."""
    written = (
        state(ctx)
        .ledger()
        .record(
            kind=kind,
            location=location,
            date=date,
            individuals=individuals,
            households=households,
            source={
                "publisher": source,
                "report": report,
                "round": round_,
                "url": source_url,
                "published_on": published_on,
            },
            origin=origin,
            cause=cause,
            note=note_,
            breakdowns=_breakdowns(breakdown) or None,
            role=role,
            quantifier=quantifier,
        )
    )
    for line in written.notes:
        note(line)
    _print_written(str(written.record_id), None, fmt)


@app.command()
def correct(
    ctx: typer.Context,
    record_id: Annotated[str, typer.Argument(help="The record to correct.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the figure is corrected.")],
    individuals: Annotated[str | None, typer.Option("--individuals")] = None,
    households: Annotated[
        str | None, typer.Option("--households", help="A number, or 'unknown'.")
    ] = None,
    date: Annotated[str | None, typer.Option("--date")] = None,
    location: Annotated[str | None, typer.Option("--location")] = None,
    breakdown: BreakdownOption = None,
    clear_breakdown: Annotated[
        list[str] | None,
        typer.Option("--clear-breakdown", help="Remove a dimension's breakdown (repeatable)."),
    ] = None,
    quantifier: QuantifierOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Correct a record's values; prints the record id and its new version.

    --breakdown changes (or adds) the parts it names and keeps the others; with
    --clear-breakdown of the same dimension, the parts given replace all of that
    dimension's."""
    unknown = households is not None and households.strip().lower() == "unknown"
    updates = _breakdowns(breakdown)
    replaced: dict[str, dict[str, str]] = {}
    for dimension in clear_breakdown or ():
        name = _checked(dimension_of, dimension)
        replaced[name] = updates.pop(name, {})
    written = (
        state(ctx)
        .ledger()
        .correct(
            record_id,
            individuals=individuals,
            households=None if unknown else households,
            households_unknown=unknown,
            date=date,
            location=location,
            breakdowns=replaced or None,
            breakdown_updates=updates or None,
            quantifier=quantifier,
            reason=reason,
        )
    )
    for line in written.notes:
        note(line)
    _print_written(str(written.record_id), written.version, fmt)


@app.command()
def review(
    ctx: typer.Context,
    record_ids: Annotated[list[str], typer.Argument(help="The record(s) to review.")],
    status: Annotated[
        str, typer.Option("--status", help="approved, changes-requested or rejected.")
    ],
    comment: Annotated[
        str | None, typer.Option("--comment", help="What the reviewer says.")
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Review the current version of records; prints each record id and the version reviewed."""
    for written in state(ctx).ledger().review(record_ids, status, comment):
        _print_written(str(written.record_id), written.version, fmt)


@app.command()
def retract(
    ctx: typer.Context,
    record_id: Annotated[str, typer.Argument(help="The record to retract.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the record is withdrawn.")],
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Retract a record: it leaves the totals and stays in history."""
    written = state(ctx).ledger().retract(record_id, reason=reason)
    _print_written(str(written.record_id), written.version, fmt)
