"""One renderer for every read command: a View becomes a Rich table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


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


# control characters (C0, DEL, C1) and the invisible marks that reorder or hide text: a
# name holding ESC[2J would clear the screen, one holding CR/LF forge a line of output
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def shown(text: str) -> str:
    """Text as it may reach a terminal or a CSV cell: every control character or invisible
    mark shown as a visible escape (``\\e``, ``\\n``, ``\\x07``, ``\\u202e``), never
    interpreted. JSON keeps the text exact."""
    if not _UNSAFE.search(text):
        return text

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        if char in _NAMED:
            return _NAMED[char]
        return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"

    return _UNSAFE.sub(escape, text)


class UnsupportedFormat(Exception):
    """A format the command cannot produce (a usage error)."""


@dataclass(frozen=True)
class Bounded:
    """A count with its quantifier: a table shows ``> 46,836``, CSV the number (a column
    of its own gives the quantifier there)."""

    value: int
    quantifier: str

    MARKS: ClassVar[dict[str, str]] = {
        "more-than": "> ", "less-than": "< ", "approximately": "~ ", "exact": "",
    }  # fmt: skip

    def __str__(self) -> str:
        return f"{self.MARKS.get(self.quantifier, '')}{self.value:,}"


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Bounded):
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    return shown(str(value))


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Bounded):
        return value.value
    return shown(value) if isinstance(value, str) else value


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
        writer.writerows([csv_cell(v) for v in row] for row in view.rows)
    else:
        render_table(view)


def render_table(view: View) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # no markup, no emoji codes: "[red]" in a source's name is shown as written
    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    if view.renderable is not None:
        console.print(view.renderable())
        for line in view.footer:
            console.print(Text(shown(line)), soft_wrap=True)
        return
    title = Text(shown(view.title)) if view.title is not None else None
    table = Table(title=title, title_justify="left", show_lines=False)
    columns = [i for i, name in enumerate(view.columns) if name not in view.table_skip]
    for i in columns:
        right = bool(view.rows) and all(
            isinstance(row[i], int | Bounded | None) for row in view.rows
        )
        table.add_column(
            Text(shown(view.columns[i])), overflow="fold", justify="right" if right else "left"
        )
    for row in view.rows:
        table.add_row(*(Text(cell(row[i])) for i in columns))
    console.print(table)
    for line in view.footer:
        console.print(Text(shown(line)), soft_wrap=True)


def who(actor: str, db_user: str | None) -> str:
    """The declared actor, and the database user that really wrote when it differs."""
    return actor if db_user is None or db_user == actor else f"{actor} (database user {db_user})"
