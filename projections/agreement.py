"""Whether the read models say what the log says: a scratch rebuild, compared row for row.

The read models are not chained: anyone who can write to the database can change a figure
table row, and the published totals change with it while the log stays intact. ``verify``
therefore rebuilds the read models from the log alone, up to the position the ledger's own
read models have reached, in a scratch database that holds nothing else (a file of its own
on SQLite, a schema of its own whose event and chain tables are views of the ledger's on
PostgreSQL: ``EventStore.scratch``), and compares every row of every read-model table with
the ledger's, in primary-key order. The rebuild checks the chain as it replays
(``ledger.integrity.replay``), so what it compares against is what the chain vouches for.
It costs a rebuild (docs/integrity.md gives the numbers); ``verify --log-only`` skips it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from ledger.errors import LedgerError
from projections.backends import ReadModels
from projections.catchup import read_position
from projections.schema import SCHEMA_VERSION, TABLES, VIEW_SCHEMA, Table

PAGE = 5_000


class ReadModelsDisagree(LedgerError):
    """A read-model row that a rebuild from the log does not give."""


@dataclass(frozen=True)
class Agreement:
    """What comparing the read models with a scratch rebuild found."""

    position: int  # the log position both stand at
    rows: int
    compared: bool  # False: the ledger has no read models (in this layout) yet
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "rows": self.rows, "agrees": self.problem is None}


def compare_read_models(target: str, attempts: int = 3) -> Agreement:
    """Rebuild the read models of the ledger at ``target`` from its log, in a scratch
    database, and compare them with the ledger's own, row by row (again, up to
    ``attempts`` times, if a catch-up moved them on meanwhile)."""
    from projections.service import connect, open_projection

    models, conn, url = connect(target)
    try:
        position = _position(models, conn)
        for _ in range(attempts):
            if position is None:
                return Agreement(0, 0, compared=False)
            with models.scratch(url, position) as scratch_target:
                scratch = open_projection(scratch_target)
                try:
                    scratch.rebuild()
                    with (
                        models.streaming(conn) as ours,
                        scratch.models.streaming(scratch.conn) as theirs,
                    ):
                        now = read_position(ours, models)
                        if now == position:
                            rows, found = _compare(ours, theirs)
                    if now == position:
                        problem = None
                        if found is not None:
                            problem = _difference(
                                *found, _keys(models, conn), _keys(scratch.models, scratch.conn)
                            )
                        return Agreement(position, rows, compared=True, problem=problem)
                finally:
                    scratch.conn.close()
            position = now
        raise ReadModelsDisagree(
            "the read models kept moving on while they were compared (another process is "
            "catching up); run `dledger verify` again"
        )
    finally:
        conn.close()


def _position(models: ReadModels, conn: Any) -> int | None:
    """Where the ledger's read models stand, or None if there are none in this layout."""
    with models.snapshot(conn) as cur:
        if not all(models.has_table(cur, t.name) for t in TABLES):
            return None
        if read_position(cur, models, VIEW_SCHEMA) != SCHEMA_VERSION:
            return None
        return read_position(cur, models) or 0


Row = tuple[Any, ...]
Difference = tuple[Table, Row | None, Row | None]


def _compare(ours: Any, theirs: Any) -> tuple[int, Difference | None]:
    """(rows compared, the first pair of rows that differ), both cursors in a snapshot; a
    page at a time (the drivers give rows as tuples: a page compares as one list)."""
    rows = 0
    for table in TABLES:
        statement = (
            f"SELECT {', '.join(table.names)} FROM {table.name} ORDER BY {table.primary_key}"
        )
        ours.execute(statement)
        theirs.execute(statement)
        while True:
            mine, rebuilt = ours.fetchmany(PAGE), theirs.fetchmany(PAGE)
            if mine == rebuilt:
                rows += len(mine)
                if not mine:
                    break
                continue
            for a, b in zip_longest(mine, rebuilt):
                rows += 1
                if a != b:
                    return rows, (table, a, b)
    return rows, None


def _keys(models: ReadModels, conn: Any) -> Callable[[Table], set[Row]]:
    def keys(table: Table) -> set[Row]:
        with models.snapshot(conn) as cur:
            cur.execute(f"SELECT {table.primary_key} FROM {table.name}")
            return {tuple(row) for row in cur.fetchall()}

    return keys


def _difference(
    table: Table,
    ours: Row | None,
    theirs: Row | None,
    our_keys: Callable[[Table], set[Row]],
    their_keys: Callable[[Table], set[Row]],
) -> str:
    """The first difference in words: a row the ledger's read models lack, one they hold
    that the rebuild does not, or a value that differs."""
    names = [k.strip() for k in table.primary_key.split(",")]

    def key(row: Row) -> Row:
        return tuple(row[table.names.index(k)] for k in names)

    def shown(row: Row) -> str:
        return ", ".join(f"{k} {v!r}" for k, v in zip(names, key(row), strict=True))

    if ours is not None and theirs is not None and key(ours) == key(theirs):
        column, mine, rebuilt = next(
            (c, a, b) for c, a, b in zip(table.names, ours, theirs, strict=True) if a != b
        )
        return (
            f"the read model {table.name} disagrees with the log at ({shown(ours)}): its "
            f"{column} is {_short(mine)}, the log gives {_short(rebuilt)}; it was altered "
            "outside the ledger; run `dledger rebuild`"
        )
    if ours is not None and (theirs is None or key(ours) not in their_keys(table)):
        return (
            f"the read model {table.name} holds a row ({shown(ours)}) that the log does not "
            "give: it was written outside the ledger; run `dledger rebuild`"
        )
    missing = theirs if theirs is not None and key(theirs) not in our_keys(table) else ours
    return (
        f"the read model {table.name} lacks the row ({shown(missing or ())}) that the log "
        "gives: it was deleted outside the ledger; run `dledger rebuild`"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
