"""The read models on SQLite.

New records are copied set-based in two steps: one statement parses each state once
(``json_extract``) into a table, two more copy from it into the figure and detail tables.
On a backlog (a rebuild, the first read after a large import) a second thread parses the
next pages into a scratch database while this connection applies the current one
(``projections.backends.prefetch``): JSON parsing was the largest part of a catch-up, and
``sqlite3`` releases the GIL for a whole statement, so the two really run at once.
A list of questions is bound as one JSON array and unpacked by ``json_each``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any, ClassVar

from ledger.backends import EVENTS_TABLE, Cursor
from ledger.backends.sqlite import SqliteStore, sqlite_path
from ledger.breakdowns import DIMENSIONS
from ledger.fields import FIGURE_FIELDS, MAX_COUNT
from projections.backends import RECORDED_TOPIC, NotSetBased, ReadModels
from projections.schema import DETAILS, VERSION_INDEXES, VERSIONS

SCRATCH = "dlp_scratch"  # the name a prefetch's scratch database is attached under
CATCH_UP_CACHE_KIB = 32 * 1024
# an index build sorts in runs of about the page cache's size, merged at the end; runs of a
# few MB stay in the CPU's caches and two threads sort them: faster than one large sort
INDEX_SORT_CACHE_KIB = 2 * 1024
ORDINAL_OF_JULIAN_DAY_0 = 1_721_424.5  # julianday('0001-01-01') - 1

# the columns a new record's parsed state fills, in the scratch table's order
NEW_COLUMNS = (
    "position", "record_id", "version", *(f.column for f in FIGURE_FIELDS),
    "country", "adm1", "adm2", "at",
)  # fmt: skip
# the event's timestamp as integer µs since the epoch: whole seconds by the date functions,
# the six fraction digits as written (an offset of ±HH:MM is required)
_AT = """(CAST(strftime('%s', substr(e.ts, 1, 19) || substr(e.ts, -6)) AS INTEGER) * 1000000
    + CASE WHEN substr(e.ts, 20, 1) = '.' THEN CAST(substr(e.ts, 21, 6) AS INTEGER) ELSE 0 END)"""


# breakdowns as the ledger writes them (ledger.breakdowns): each dimension a known one
# holding an object, each part a whole number in range, nothing deeper
_BREAKDOWNS_READABLE = (
    "NOT EXISTS (SELECT 1 FROM json_tree({b}) AS t WHERE (t.parent = 0 AND (t.type IS NOT "
    "'object' OR t.key NOT IN (" + ", ".join(f"'{d}'" for d in DIMENSIONS) + "))) OR "
    f"(t.parent > 0 AND (t.type IS NOT 'integer' OR t.atom < 0 OR t.atom > {MAX_COUNT})))"
)


def _value(kind: str, name: str, default: object = None) -> str:
    if kind == "day":
        return f"CAST(julianday(e.{name}) - {ORDINAL_OF_JULIAN_DAY_0} AS INTEGER)"
    if default is not None:  # an event stored before the field existed lacks it
        return f"coalesce(e.{name}, '{default}')"
    return f"e.{name}"


def _guard(kind: str, name: str, nullable: bool) -> str:
    """What the state must hold for the copy to take it (anything else goes to the
    row-by-row path, which names an unreadable event)."""
    if kind == "day":
        check = f"date(e.{name}) IS e.{name}"
    elif kind == "count":
        check = f"(typeof(e.{name}) = 'integer' AND e.{name} BETWEEN 0 AND {MAX_COUNT})"
    elif kind == "json" and name == "breakdowns":
        check = f"e.{name}_type = 'object' AND {_BREAKDOWNS_READABLE.format(b=f'e.{name}')}"
    elif kind == "json":
        check = f"e.{name}_type = 'object'"
    else:
        check = f"typeof(e.{name}) = 'text'"
    return f"(e.{name} IS NULL OR {check})" if nullable else check


def fill_statement(table: str) -> str:
    """Each state of the page's new records parsed once, into ``table``."""
    extracts = ",\n           ".join(
        [f"json_extract(s, '$.{f.name}') AS {f.name}" for f in FIGURE_FIELDS]
        + [
            f"json_type(s, '$.{f.name}') AS {f.name}_type"
            for f in FIGURE_FIELDS
            if f.kind == "json"
        ]
    )
    values = ", ".join(_value(f.kind, f.name, f.default) for f in FIGURE_FIELDS)
    guards = "\n  AND ".join(
        _guard(f.kind, f.name, f.nullable or f.default is not None) for f in FIGURE_FIELDS
    )
    return f"""
INSERT INTO {table} ({", ".join(NEW_COLUMNS)})
WITH e AS MATERIALIZED (
    SELECT id, originator_id, originator_version,
           json_extract(s, '$.timestamp._type_') AS ts_type,
           json_extract(s, '$.timestamp._data_') AS ts,
           json_type(s, '$.class_version') AS class_version,
           {extracts}
    FROM (SELECT id, originator_id, originator_version, CAST(state AS TEXT) AS s
          FROM {EVENTS_TABLE} WHERE id > :after AND id <= :last AND topic = :topic)
)
SELECT e.id, lower(hex(e.originator_id)), e.originator_version, {values},
       l.country, l.adm1, l.adm2, {_AT}
FROM e
JOIN dlp_locations AS l ON l.pcode = e.pcode
WHERE e.ts_type = 'datetime_iso' AND e.class_version IS NULL
  AND length(e.ts) IN (25, 32) AND substr(e.ts, -6, 1) IN ('+', '-')
  AND {guards}
"""


def copy_statements(table: str, *, ranged: bool) -> tuple[str, str]:
    """The figure rows and their details from a table ``fill_statement`` filled (holding
    only this page, or, ``ranged``, pages the statements pick by position)."""
    where = " WHERE position > :after AND position <= :last" if ranged else ""
    fixed = {
        "action": "'recorded'", "retracted": "0", "created_at": "at", "recorded_at": "at",
        "superseded_at": "NULL", "reason": "NULL", "citation": "NULL", "changes": "'[]'",
    }  # fmt: skip
    return tuple(  # type: ignore[return-value]
        f"INSERT INTO {target.name} ({', '.join(target.names)}) "
        f"SELECT {', '.join(fixed.get(c, c) for c in target.names)} FROM {table}{where}"
        for target in (VERSIONS, DETAILS)
    )


def _known(dimension: str) -> str:
    if dimension not in DIMENSIONS:  # pragma: no cover - the service checks it first
        raise ValueError(f"not a dimension: {dimension!r}")
    return dimension


_TEMP = "temp.dlp_new"
_IN_LINE = (
    "DELETE FROM temp.dlp_new",
    fill_statement(_TEMP),
    *copy_statements(_TEMP, ranged=False),
)
_FROM_SCRATCH = copy_statements(f"{SCRATCH}.dlp_new", ranged=True)


class ReadModelsOf(ReadModels, SqliteStore):
    types: ClassVar[dict[str, str]] = {
        "position": "INTEGER", "code": "TEXT", "text": "TEXT", "int": "INTEGER",
        "count": "INTEGER", "day": "INTEGER", "json": "TEXT",
    }  # fmt: skip

    def present_indexes(self, cur: Cursor) -> set[str]:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                    (VERSIONS.name,))  # fmt: skip
        wanted = {index.name for index in VERSION_INDEXES}
        return {str(row[0]) for row in cur.fetchall()} & wanted

    def before_index_build(self, cur: Cursor) -> None:
        cur.execute(f"PRAGMA cache_size = -{INDEX_SORT_CACHE_KIB}")
        cur.execute("PRAGMA threads = 2")

    def before_page(self, cur: Cursor) -> None:
        cur.execute(f"PRAGMA cache_size = -{CATCH_UP_CACHE_KIB}")

    def copy_recorded(self, cur: Cursor, after: int, last: int, *, parsed: bool = False) -> int:
        bounds = {"after": after, "last": last}
        if parsed:
            counts = []
            for statement in _FROM_SCRATCH:
                cur.execute(statement, bounds)
                counts.append(int(cur.rowcount))
            return min(counts)
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS dlp_new ({', '.join(NEW_COLUMNS)})")
        cur.execute(_IN_LINE[0])
        try:
            cur.execute(_IN_LINE[1], {**bounds, "topic": RECORDED_TOPIC})
        except sqlite3.DatabaseError as error:  # a state that is not JSON, say
            raise NotSetBased(str(error)) from error
        taken = int(cur.rowcount)
        for statement in _IN_LINE[2:]:
            cur.execute(statement)
        return taken

    def parts_join(self, dimension: str) -> str:
        return f"JOIN json_each(v.breakdowns, '$.{_known(dimension)}') AS e"

    def has_dimension(self, dimension: str) -> str:
        return f"json_type(v.breakdowns, '$.{_known(dimension)}') IS NOT NULL"

    batch_base = 0  # the key of a batch's first element

    def batch(self, rows: Sequence[Sequence[Any]], types: Sequence[str]) -> tuple[str, list[Any]]:
        columns = ", ".join(f"value ->> {i} AS c{i}" for i in range(len(types)))
        return (
            f"(SELECT key, {columns} FROM json_each(?)) AS p",
            [json.dumps([list(r) for r in rows])],
        )

    def prefetch(self, url: str, start: int, page_size: int) -> Any:
        from projections.backends.prefetch import Prefetch

        path = sqlite_path(url)
        return Prefetch(
            path,
            start,
            page_size=page_size,
            fill=fill_statement(f"{SCRATCH}.dlp_new"),
            columns=", ".join(NEW_COLUMNS[1:]),
            topic=RECORDED_TOPIC,
        )
