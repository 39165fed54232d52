"""Reading import files: HXL-tagged CSV, DTM API v3 JSON and plain CSV become ``SourceRow``s.

Every reader streams: it yields one row at a time with its line number in the file
(the header is line 1) and its original cells, so rejected rows can be written back.
Each reader maps its columns onto one vocabulary of canonical field names.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInput


class FileFormat(StrEnum):
    HXL = "hxl"
    DTM_JSON = "dtm-json"
    CSV = "csv"
    GIDD = "gidd"  # IDMC's Global Internal Displacement Database, a country file
    HAPI = "hapi"  # HDX HAPI's normalised IDP file


@dataclass(frozen=True)
class SourceRow:
    """One row of an import file: canonical field → text, and the original cells."""

    line: int
    values: dict[str, str]
    raw: tuple[str, ...]


# Plain CSV: the `record` command's option names (and `record_id`/`import_key` from exports).
PLAIN_COLUMNS = {
    "kind": "kind",
    "location": "location",
    "date": "date",
    "individuals": "individuals",
    "households": "households",
    "source": "publisher",
    "report": "report",
    "source_url": "source_url",
    "published_on": "published_on",
    "round": "round",
    "origin": "origin",
    "cause": "cause",
    "note": "note",
    "record_id": "record_id",
    "import_key": "import_key",
    "assessment_type": "assessment_type",
    "operation": "operation",
    "rounded": "rounded",
    "role": "role",
    "quantifier": "quantifier",
    # breakdowns (ledger.breakdowns): counts, and list cells "VALUE=N; VALUE=N"
    "females": "sex:female",
    "males": "sex:male",
    "cause_breakdown": "cause_parts",
    "origin_breakdown": "origin_parts",
}
_PLAIN_AGE = re.compile(r"^age_(\d{1,3})_(\d{1,3})$|^age_(\d{1,3})_?plus$")


def age_field(match: re.Match[str]) -> str:
    """The canonical field of an age band column (``age:0-4``, ``age:60+``)."""
    lower, upper, open_lower = match.groups()
    return f"age:{lower}-{upper}" if open_lower is None else f"age:{open_lower}+"


def plain_field(name: str) -> str | None:
    """The canonical field a plain CSV column (its normalised name) feeds."""
    if name in PLAIN_COLUMNS:
        return PLAIN_COLUMNS[name]
    age = _PLAIN_AGE.match(name)
    return age_field(age) if age else None


DTM_JSON_FIELDS = {
    "operation": "operation",
    "admin0Name": "country_name",
    "admin0Pcode": "country_code",
    "admin1Name": "adm1_name",
    "admin1Pcode": "adm1_code",
    "admin2Name": "adm2_name",
    "admin2Pcode": "adm2_code",
    "adminLevel": "admin_level",
    "numPresentIdpInd": "individuals",
    "reportingDate": "date",
    "roundNumber": "round",
    "displacementReason": "cause",
    "numberMales": "sex:male",
    "numberFemales": "sex:female",
    "idpOriginAdmin1Pcode": "origin",
    "idpOriginAdmin1Name": "origin_name",
    "assessmentType": "assessment_type",
}


class TableReader:
    """A streaming reader: ``header`` lines for a reject file, ``columns`` canonical → label."""

    def __init__(
        self,
        header: list[list[str]],
        columns: dict[str, str],
        rows: Iterator[SourceRow],
        closing: list[Callable[[], Any]],
    ) -> None:
        self.header = header
        self.columns = columns
        self.rows = rows
        self._closing = closing

    def close(self) -> None:
        for close in self._closing:
            close()

    def __enter__(self) -> TableReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def undo_export_escapes(
    pick: Callable[[list[str]], dict[str, str]],
) -> Callable[[list[str]], dict[str, str]]:
    """An export (it carries record ids) escapes a cell a spreadsheet would run as a
    formula with a leading apostrophe (``projections.records.escape_cell``): undone."""

    def unescaped(cells: list[str]) -> dict[str, str]:
        return {k: v[1:] if v.startswith("'") else v for k, v in pick(cells).items()}

    return unescaped


def picker(position: dict[str, int]) -> Callable[[list[str]], dict[str, str]]:
    """Field → stripped cell, for the fields at ``position``; a short row's missing cells
    are empty."""
    fields = tuple(position)
    indexes = tuple(position.values())
    needed = max(indexes, default=-1) + 1
    cells_at = itemgetter(*indexes) if len(indexes) > 1 else lambda cells: (cells[indexes[0]],)

    def pick(cells: list[str]) -> dict[str, str]:
        if fields and len(cells) >= needed:
            return dict(zip(fields, map(str.strip, cells_at(cells)), strict=True))
        return {f: cells[i].strip() if i < len(cells) else "" for f, i in position.items()}

    return pick


def check_text(path: Path) -> None:
    """Refuse a file that is not UTF-8 text (a spreadsheet, a Latin-1 export), naming the
    line of the first byte that is not: read in chunks, decoded incrementally."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            if b"\0" in chunk:
                raise InvalidInput(f"{path.name}: not a text file (it holds NUL bytes)")
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                line += chunk.count(b"\n", 0, error.start)
                raise InvalidInput(
                    f"{path.name} line {line}: not UTF-8 text (byte 0x{chunk[error.start]:02x}); "
                    "save the file as UTF-8"
                ) from None
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InvalidInput(
                f"{path.name}: not UTF-8 text (it ends inside a character)"
            ) from None


def detect_format(path: Path) -> FileFormat:
    """JSON if it starts with ``{``; IDMC GIDD or HDX HAPI by their header's columns; HXL if
    a hashtag row is among the first 25 lines; else CSV."""
    from ledger.importing.published import header_names, is_gidd, is_hapi

    with path.open("rb") as handle:
        head = handle.read(65536).decode("utf-8-sig", errors="replace")
    if head.lstrip().startswith(("{", "[")):
        return FileFormat.DTM_JSON
    names = header_names(path)
    if is_gidd(names):
        return FileFormat.GIDD
    if is_hapi(names):
        return FileFormat.HAPI
    for cells in csv.reader(io.StringIO("\n".join(head.splitlines()[:25]))):
        tagged = [c for c in cells if c.strip()]
        if tagged and sum(c.strip().startswith("#") for c in tagged) * 2 >= len(tagged):
            return FileFormat.HXL
    return FileFormat.CSV


def open_rows(path: Path, fmt: FileFormat) -> TableReader:
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    check_text(path)
    if fmt is FileFormat.HXL:
        from ledger.importing.hxl import read_hxl

        return read_hxl(path)
    if fmt is FileFormat.DTM_JSON:
        return _dtm_json(path)
    if fmt in (FileFormat.GIDD, FileFormat.HAPI):
        from ledger.importing.published import gidd_rows, hapi_rows

        return gidd_rows(path) if fmt is FileFormat.GIDD else hapi_rows(path)
    return _plain_csv(path)


def no_repeats(path: Path, columns: list[tuple[int, object, str]]) -> None:
    """Two columns of one name leave it to chance which value counts: refused.
    ``columns``: (place, what makes two columns the same, the name shown)."""
    seen: dict[object, int] = {}
    for i, key, shown in columns:
        if key in seen:
            raise InvalidInput(
                f"{path.name}: column {shown!r} appears twice (columns {seen[key] + 1} and "
                f"{i + 1}); which one counts is ambiguous"
            )
        seen[key] = i


def _plain_csv(path: Path) -> TableReader:
    handle = path.open(encoding="utf-8-sig", newline="")
    reader = csv.reader(handle)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as error:
        handle.close()
        raise InvalidInput(f"{path.name} line 1: unreadable ({error})") from None
    if not header:
        handle.close()
        raise InvalidInput(f"{path.name}: the file is empty")
    names = [h.strip().lower().replace("-", "_") for h in header]
    try:
        no_repeats(path, [(i, n, header[i]) for i, n in enumerate(names) if n])
    except InvalidInput:
        handle.close()
        raise
    columns: dict[str, str] = {}
    position: dict[str, int] = {}
    for i, name in enumerate(names):
        field = plain_field(name)
        if field is not None and field not in columns:
            columns[field] = header[i]
            position[field] = i
    unknown = [h for h, n in zip(header, names, strict=True) if n and plain_field(n) is None]
    if unknown:
        handle.close()
        raise InvalidInput(
            f"{path.name}: unknown column(s) {', '.join(unknown)}; expected the `record` "
            f"options ({', '.join(PLAIN_COLUMNS)}) or an HXL hashtag row"
        )

    pick = picker(position)
    if "record_id" in columns:
        pick = undo_export_escapes(pick)

    def rows() -> Iterator[SourceRow]:
        last = reader.line_num
        try:
            for cells in reader:
                line, last = last + 1, reader.line_num
                if not "".join(cells).strip():
                    continue
                values = pick(cells)
                if len(cells) > len(header):
                    values["__extra__"] = ",".join(cells[len(header) :])
                yield SourceRow(line, values, tuple(cells))
        except (csv.Error, UnicodeDecodeError) as error:
            raise InvalidInput(
                f"{path.name} after line {last}: unreadable ({error}); nothing was written"
            ) from None

    return TableReader([header], columns, rows(), [handle.close])


def _dtm_json(path: Path) -> TableReader:
    """``{"result": [...]}``: the text is held, but each record is decoded one at a time."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path.name}: cannot read ({error})") from None
    start = text.find('"result"')
    bracket = text.find("[", start) if start >= 0 else -1
    if bracket < 0:
        raise InvalidInput(f'{path.name}: not a DTM API response (no "result" list)')
    columns = {field: name for name, field in DTM_JSON_FIELDS.items()}
    header = [list(DTM_JSON_FIELDS)]
    decoder = json.JSONDecoder()

    def rows() -> Iterator[SourceRow]:
        position, line, counted = bracket + 1, 1, 0
        while True:
            while position < len(text) and text[position] in " \t\r\n,":
                position += 1
            if position >= len(text):
                raise InvalidInput(f"{path.name}: the result list is not closed")
            if text[position] == "]":
                return
            line += text.count("\n", counted, position)
            counted = position
            try:
                item, position = decoder.raw_decode(text, position)
            except json.JSONDecodeError as error:
                raise InvalidInput(f"{path.name} line {error.lineno}: {error.msg}") from None
            if not isinstance(item, dict):
                raise InvalidInput(f"{path.name} line {line}: a result item is not an object")
            values = {
                field: "" if item.get(name) is None else str(item[name]).strip()
                for name, field in DTM_JSON_FIELDS.items()
                if name in item
            }
            raw = tuple("" if item.get(n) is None else str(item[n]) for n in DTM_JSON_FIELDS)
            yield SourceRow(line, values, raw)

    return TableReader(header, columns, rows(), [])
