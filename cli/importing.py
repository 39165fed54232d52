"""File commands: `import`, `locations import`, `export records`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from cli.app import commands, note, state

if TYPE_CHECKING:
    from ledger.importing import ImportRefused, Planned

SHOWN_ERRORS = 20
INPUT_FORMATS = ("hxl", "dtm-json", "csv", "gidd", "hapi")
OUTPUT_FORMATS = ("table", "json")

app = commands()
export_app = typer.Typer(
    help="Write the ledger's contents to files.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(export_app, name="export")


def _formats(fmt: str | None, input_format: str | None) -> tuple[str | None, str]:
    """The input format (hxl|dtm-json|csv, or None: detected) and the output (table|json)."""
    output = (fmt or "table").strip().lower()
    if output not in OUTPUT_FORMATS:
        raise typer.BadParameter(
            f"{fmt!r} is not one of {', '.join(OUTPUT_FORMATS)} (the file's own format is "
            "--input-format)",
            param_hint="--format",
        )
    source = input_format.strip().lower() if input_format else None
    if source is not None and source not in INPUT_FORMATS:
        raise typer.BadParameter(
            f"{input_format!r} is not one of {', '.join(INPUT_FORMATS)}",
            param_hint="--input-format",
        )
    return source, output


@contextmanager
def _progress() -> Iterator[Callable[[str, int], None] | None]:
    """A Rich bar (rows and rate) on a terminal; plain lines with DLEDGER_PROGRESS=lines."""
    if os.environ.get("DLEDGER_PROGRESS") == "lines":
        yield lambda phase, n: note(f"{phase}: {n} rows")
        return
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, Any] = {}

        def tick(phase: str, n: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=None, rate="")
            task = tasks[phase]
            bar.update(task, completed=n)
            speed = bar.tasks[task].speed
            bar.update(task, rate=f"{speed:,.0f} rows/s" if speed else "")

        yield tick


def _refused(error: ImportRefused, output: str) -> NoReturn:
    if output == "json":
        typer.echo(json.dumps({"errors": [e.as_dict() for e in error.errors]}, ensure_ascii=False))
    note(f"error: {error}")
    if output != "json":
        for problem in error.errors[:SHOWN_ERRORS]:
            note(f"  {problem}")
        if len(error.errors) > SHOWN_ERRORS:
            note(f"  … and {len(error.errors) - SHOWN_ERRORS} more (--format json lists all)")
    raise typer.Exit(1)


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="HXL CSV, DTM API JSON or plain CSV.")],
    input_format: Annotated[
        str | None,
        typer.Option("--input-format", help="hxl, dtm-json or csv (detected when absent)."),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="Output format: table or json.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Publisher for rows that name none.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be written; write nothing.")
    ] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows; needs --rejects.")
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option("--rejects", help="Where --skip-invalid writes the rejected rows."),
    ] = None,
    retract_missing: Annotated[
        bool,
        typer.Option(
            "--retract-missing", help="Retract records of this source absent from the file."
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --rejects file.")
    ] = False,
) -> None:
    """Import figures from a file: all-or-nothing, idempotent, revisions become corrections."""
    from ledger.importing import FileFormat, ImportOptions, ImportRefused, import_file

    chosen, output = _formats(fmt, input_format)
    if skip_invalid != (rejects is not None):
        raise typer.BadParameter(
            "--skip-invalid and --rejects FILE go together", param_hint="--skip-invalid/--rejects"
        )
    options = ImportOptions(
        fmt=None if chosen is None else FileFormat(chosen),
        source=source,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        rejects=rejects,
        retract_missing=retract_missing,
        force=force,
    )
    plan: list[Planned] = []

    def on_plan(item: Planned) -> None:
        if dry_run and output == "json":
            plan.append(item)
        elif dry_run:
            typer.echo(str(item))
        elif item.action in ("missing", "retract"):
            note(str(item))

    ledger = state(ctx).ledger()
    try:
        with _progress() as tick:
            report = import_file(ledger, file, options, on_plan=on_plan, progress=tick)
    except ImportRefused as error:
        _refused(error, output)
    if output == "json":
        data = report.as_dict()
        if dry_run:
            data["plan"] = [p.as_dict() for p in plan]
        typer.echo(json.dumps(data, ensure_ascii=False))
    note(report.summary())
    if report.rejected and rejects is not None:
        note(f"{report.rejected} rejected row(s) written to {rejects}")
    if report.count("missing"):
        note("records above are missing from this file; --retract-missing retracts them")


@export_app.command("records")
def export_records(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (default stdout).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Every current record with its provenance, as HXL CSV that `import` reads back."""
    from ledger.files import check_output, written

    if out is not None:
        check_output(out, force=force)
    reader = state(ctx).reader()
    if out is None:
        count = _write_records(reader, sys.stdout)
    else:
        with written(out, force=force) as handle:
            count = _write_records(reader, handle)
    note(f"{count} records exported")


def _write_records(reader: Any, handle: Any) -> int:
    import csv

    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow([name for name, _ in reader.export_columns])
    writer.writerow([tag for _, tag in reader.export_columns])
    count = 0
    for row in reader.export_rows():
        writer.writerow(row)
        count += 1
    return count
