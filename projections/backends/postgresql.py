"""The read models on PostgreSQL.

A page's new records are copied by one statement: ``json_to_record`` parses each state
once and data-modifying CTEs insert the figure rows and their details from the same
parsed set. Code columns are in the ``"C"`` collation: byte order, as SQLite compares
them, whatever the database's locale, and index builds then sort on abbreviated keys.
A list of questions is bound as arrays and unpacked by ``unnest``. Read-model DDL takes a
transaction-scoped advisory lock, so two processes creating or indexing the tables take
turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ledger.backends import EVENTS_TABLE, Cursor
from ledger.backends.postgresql import PostgresStore
from ledger.breakdowns import DIMENSIONS
from ledger.fields import FIGURE_FIELDS, MAX_COUNT
from projections.backends import RECORDED_TOPIC, NotSetBased, ReadModels
from projections.schema import DETAILS, LOCATIONS, VERSION_INDEXES, VERSIONS

DDL_LOCK = 0x646C6564  # "dled": serialises read-model DDL across processes
_RECORD_TYPES = {"code": "text", "text": "text", "count": "bigint", "day": "text", "json": "json"}


# breakdowns as the ledger writes them (as on SQLite): the compact JSON text of known
# dimensions, each an object of whole numbers of at most 12 digits (MAX_COUNT) — matched
# on the text (json_to_record has parsed it already): parsing it again, per part, made the
# catch-up of a broken-down log half again slower
_KEY = r'"([^"\\]|\\.)*"'
_PARTS = rf"\{{({_KEY}:[0-9]{{1,12}}(,{_KEY}:[0-9]{{1,12}})*)?\}}"
_DIMENSION = "(" + "|".join(DIMENSIONS) + ")"
_BREAKDOWNS_TEXT = rf'^\{{("{_DIMENSION}":{_PARTS}(,"{_DIMENSION}":{_PARTS})*)?\}}$'
_BREAKDOWNS_READABLE = f"r.\"breakdowns\"::text ~ '{_BREAKDOWNS_TEXT}'"


def _value(kind: str, name: str, default: object = None) -> str:
    if default is not None:  # an event stored before the field existed lacks it
        return f"coalesce(r.\"{name}\", '{default}')"
    if kind == "day":
        return f"(r.\"{name}\"::date - DATE '0001-01-01' + 1)"
    if kind == "json":
        return f'r."{name}"::text'
    return f'r."{name}"'


def _guard(kind: str, name: str, nullable: bool) -> str:
    if kind == "count":
        check = f'r."{name}" BETWEEN 0 AND {MAX_COUNT}'
    elif kind == "json" and name == "breakdowns":
        check = f"json_typeof(r.\"{name}\") = 'object' AND {_BREAKDOWNS_READABLE}"
    elif kind == "json":
        check = f"json_typeof(r.\"{name}\") = 'object'"
    else:
        check = f'r."{name}" IS NOT NULL'
    return f'(r."{name}" IS NULL OR {check})' if nullable else check


def _copy_statement() -> str:
    record = ", ".join(f'"{f.name}" {_RECORD_TYPES[f.kind]}' for f in FIGURE_FIELDS)
    values = ", ".join(f"{_value(f.kind, f.name, f.default)} AS {f.column}" for f in FIGURE_FIELDS)
    guards = "\n      AND ".join(
        _guard(f.kind, f.name, f.nullable or f.default is not None) for f in FIGURE_FIELDS
    )
    fixed = {
        "action": "'recorded'", "retracted": "0", "created_at": "at", "recorded_at": "at",
        "superseded_at": "NULL", "reason": "NULL", "citation": "NULL", "changes": "'[]'",
    }  # fmt: skip
    versions = ", ".join(fixed.get(c, c) for c in VERSIONS.names)
    details = ", ".join(fixed.get(c, c) for c in DETAILS.names)
    return f"""
WITH n AS (
    SELECT e.id AS position, replace(e.originator_id::text, '-', '') AS record_id,
           e.originator_version AS version, {values},
           l.country, l.adm1, l.adm2, t.at
    FROM {EVENTS_TABLE} AS e
    CROSS JOIN LATERAL json_to_record(convert_from(e.state, 'UTF8')::json) AS r(
        "timestamp" json, {record}, class_version integer)
    CROSS JOIN LATERAL (
        SELECT (extract(epoch FROM (r."timestamp" ->> '_data_')::timestamptz) * 1000000)::bigint
    ) AS t(at)
    JOIN {LOCATIONS.name} AS l ON l.pcode = r.pcode
    WHERE e.id > %(after)s AND e.id <= %(last)s AND e.topic = %(topic)s
      AND r.class_version IS NULL
      AND r."timestamp" ->> '_type_' = 'datetime_iso'
      AND r."timestamp" ->> '_data_' ~ '[+-][0-9][0-9]:[0-9][0-9]$'
      AND {guards}
), v AS (
    INSERT INTO {VERSIONS.name} ({", ".join(VERSIONS.names)}) SELECT {versions} FROM n
)
INSERT INTO {DETAILS.name} ({", ".join(DETAILS.names)}) SELECT {details} FROM n
"""


_COPY = _copy_statement()


class ReadModelsOf(ReadModels, PostgresStore):
    types: ClassVar[dict[str, str]] = {
        "position": "BIGINT", "code": 'TEXT COLLATE "C"', "text": "TEXT", "int": "INTEGER",
        "count": "BIGINT", "day": "INTEGER", "json": "TEXT",
    }  # fmt: skip

    def present_indexes(self, cur: Cursor) -> set[str]:
        cur.execute(
            "SELECT indexname FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = %s",
            (VERSIONS.name,),
        )
        wanted = {index.name for index in VERSION_INDEXES}
        return {str(row[0]) for row in cur.fetchall()} & wanted

    def lock_ddl(self, cur: Cursor) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))

    def after_bulk_load(self, cur: Cursor) -> None:
        # fresh statistics, or the planner may scan the whole figure table (or join the
        # page's states with the locations by a nested loop over all of them)
        for table in (VERSIONS.name, LOCATIONS.name):
            cur.execute(f"ANALYZE {table}")

    def after_locations(self, cur: Cursor) -> None:
        cur.execute(f"ANALYZE {LOCATIONS.name}")

    def insert_rows(
        self, cur: Cursor, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def copy_recorded(self, cur: Cursor, after: int, last: int, *, parsed: bool = False) -> int:
        import psycopg

        try:
            cur.execute(_COPY, {"after": after, "last": last, "topic": RECORDED_TOPIC})
        except psycopg.DataError as error:  # a state that is not JSON, a count out of range
            raise NotSetBased(str(error)) from error
        return int(cur.rowcount)

    def parts_join(self, dimension: str) -> str:
        if dimension not in DIMENSIONS:  # pragma: no cover - the service checks it first
            raise ValueError(f"not a dimension: {dimension!r}")
        return f"CROSS JOIN LATERAL json_each_text(v.breakdowns::json -> '{dimension}') AS e"

    def part_count(self) -> str:
        return "CAST(e.value AS BIGINT)"

    def has_dimension(self, dimension: str) -> str:
        return f"(v.breakdowns::json -> '{dimension}') IS NOT NULL"

    batch_base = 1  # the key of a batch's first element

    def seek(self, source: str, table: str, alias: str, condition: str) -> str:
        # a lateral subquery behind an optimisation fence (OFFSET 0): the planner cannot
        # turn it into a hash join that reads the whole table for a list of a few elements
        return (
            f"{source} CROSS JOIN LATERAL "
            f"(SELECT * FROM {table} AS {alias} WHERE {condition} OFFSET 0) AS {alias}"
        )

    def batch(self, rows: Sequence[Sequence[Any]], types: Sequence[str]) -> tuple[str, list[Any]]:
        sql_types = {"text": "text[]", "int": "bigint[]"}
        arrays = ", ".join(f"?::{sql_types[t]}" for t in types)
        names = ", ".join(f"c{i}" for i in range(len(types)))
        columns = [[row[i] for row in rows] for i in range(len(types))]
        return f"unnest({arrays}) WITH ORDINALITY AS p({names}, key)", columns
