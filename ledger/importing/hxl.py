"""HXL-tagged CSV: which canonical field each hashtag+attributes column feeds, and the
streaming reader (libhxl parses the file; ``ledger.importing.rows`` has the vocabulary).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from ledger.errors import InvalidInput
from ledger.importing.rows import (
    SourceRow,
    TableReader,
    age_field,
    no_repeats,
    picker,
    undo_export_escapes,
)

_HXL_AGE = re.compile(r"^age(\d{1,3})_(\d{1,3})$|^age(\d{1,3})plus$")

_META = {
    "role": "role",
    "quantifier": "quantifier",
    "source": "publisher",
    "url": "source_url",
    "report": "report",
    "id": "record_id",
    "key": "import_key",
    "note": "note",
}


def hxl_field(tag: str, attributes: frozenset[str]) -> str | None:
    """The canonical field an HXL hashtag+attributes column feeds, or None to ignore it."""
    a = set(attributes)
    name = tag.lstrip("#").lower()
    if "origin" in a:
        if name in ("adm1", "adm2", "adm3", "loc", "country") and "code" in a:
            return "origin_parts" if "list" in a else "origin"
        return "origin_name" if "name" in a else None
    if name == "cause" and "list" in a:
        return "cause_parts"
    if name in ("country", "adm1", "adm2", "adm3"):
        if "code" in a:
            return f"{name}_code"
        if "name" in a:
            return f"{name}_name"
        return None
    if name == "adm" and "level" in a:
        return "admin_level"
    if name == "affected" and "idps" in a:
        rest = a - {"idps", "ind"}
        if rest <= {"i", "total"}:
            return "individuals"
        if rest == {"rounded"}:
            return "rounded"
        if rest == {"f"} or rest == {"m"}:  # DTM's numberFemales / numberMales
            return "sex:female" if rest == {"f"} else "sex:male"
        age = _HXL_AGE.match(next(iter(rest))) if len(rest) == 1 else None
        if age:
            return age_field(age)
        return "households" if rest in ({"hh"}, {"households"}) and "ind" not in a else None
    if name == "date":
        if not a or a == {"reported"}:
            return "date"
        return "published_on" if a == {"published"} else None
    simple = {
        "round": "round",
        "cause": "cause",
        "assessment": "assessment_type",
        "operation": "operation",
        "indicator": "kind",
        "description": "note",
    }
    if name in simple:
        return simple[name]
    if name == "meta":
        for attribute, field in _META.items():
            if attribute in a:
                return field
    return None


def read_hxl(path: Path) -> TableReader:
    import hxl  # libhxl costs ~140 ms to import; only imports need it

    handle = path.open("rb")
    try:
        source = hxl.input.make_input(handle)
        dataset = hxl.data(source)
        columns_list = dataset.columns
    except (hxl.HXLException, OSError, UnicodeDecodeError, csv.Error) as error:
        handle.close()
        raise InvalidInput(f"{path.name}: not a readable HXL file ({error})") from None
    columns: dict[str, str] = {}
    position: dict[str, int] = {}
    try:
        no_repeats(
            path,
            [
                (i, (c.tag.lower(), frozenset(a.lower() for a in c.attributes)), c.display_tag)
                for i, c in enumerate(columns_list)
                if c.tag
            ],
        )
    except InvalidInput:
        source.__exit__(None, None, None)
        handle.close()
        raise
    for i, column in enumerate(columns_list):
        if not column.tag:
            continue
        field = hxl_field(column.tag, frozenset(column.attributes))
        if field is not None and field not in columns:
            columns[field] = column.display_tag
            position[field] = i
    headers = list(dataset.headers)
    header = ([headers] if any(h for h in headers) else []) + [list(dataset.display_tags)]

    pick = picker(position)
    if "record_id" in columns:
        pick = undo_export_escapes(pick)

    def rows() -> Iterator[SourceRow]:
        try:
            for row in dataset:
                cells = row.values  # text, as the CSV reader under libhxl gives it
                if None in cells:
                    cells = ["" if v is None else str(v) for v in cells]
                if not "".join(cells).strip():
                    continue
                yield SourceRow(row.source_row_number + 1, pick(cells), tuple(cells))
        except (hxl.HXLException, csv.Error, UnicodeDecodeError) as error:
            raise InvalidInput(f"{path.name}: not a readable HXL file ({error})") from None

    return TableReader(
        header, columns, rows(), [lambda: source.__exit__(None, None, None), handle.close]
    )
