"""One renderer for every read command: a View becomes a Rich table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    HXL = "hxl"


@dataclass
class View:
    """What a command shows: JSON-ready data, and the same facts as titled rows."""

    data: Any
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[Any]] = ()
    title: str | None = None
    footer: list[str] = field(default_factory=list)
    renderable: Callable[[], Any] | None = None  # a Rich renderable instead of a grid
    hxl: Sequence[str] = ()  # one HXL hashtag per column, for --format hxl
    table_skip: Sequence[str] = ()  # columns a table leaves out (its title says them)


class UnsupportedFormat(Exception):
    """A format the command cannot produce (a usage error)."""


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(view: View, fmt: Format) -> None:
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(view.data, ensure_ascii=False, indent=2) + "\n")
    elif fmt in (Format.CSV, Format.HXL):
        if fmt is Format.HXL and len(view.hxl) != len(view.columns):
            raise UnsupportedFormat("this command has no HXL form; use csv or json")
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(view.columns)
        if fmt is Format.HXL:
            writer.writerow(view.hxl)
        writer.writerows(["" if v is None else v for v in row] for row in view.rows)
    else:
        render_table(view)


def render_table(view: View) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    if view.renderable is not None:
        console.print(view.renderable())
        for line in view.footer:
            console.print(line, soft_wrap=True)
        return
    table = Table(title=view.title, title_justify="left", show_lines=False)
    shown = [i for i, name in enumerate(view.columns) if name not in view.table_skip]
    for i in shown:
        right = bool(view.rows) and all(isinstance(row[i], int | None) for row in view.rows)
        table.add_column(view.columns[i], overflow="fold", justify="right" if right else "left")
    for row in view.rows:
        table.add_row(*(cell(row[i]) for i in shown))
    console.print(table)
    for line in view.footer:
        console.print(line, soft_wrap=True)
