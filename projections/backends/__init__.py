"""The read models' seam: what SQLite and PostgreSQL do differently, one module each.

A backend here is the event store's backend (``ledger.backends``) plus what the read
models need of the database: column types, the catalogue, bulk row inserts, the
set-based copy of a page's new records (the JSON states parsed in SQL), a list of
questions bound as one parameter (so the figure rule asks a whole level at once), and,
on SQLite, a second thread that parses pages ahead. ``ReadModels`` holds what both do
alike on top of those; nothing else in ``projections`` asks which database it is.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, ClassVar

from ledger.backends import Cursor, EventStore, store_for
from projections.schema import TABLES, VERSION_INDEXES, Index, Table

RECORDED_TOPIC = "ledger.records:FigureRecord.Recorded"


class NotSetBased(Exception):
    """A page the set-based copy could not take whole (a state it cannot parse, say): the
    transaction is rolled back and the page is applied row by row instead."""


class ReadModels(EventStore):
    """Read-model DDL and writes on top of the backend's own methods."""

    types: ClassVar[dict[str, str]] = {}

    # -- the tables ------------------------------------------------------------------------

    def create_tables(self, cur: Cursor) -> None:
        for table in TABLES:
            cur.execute(self.table_ddl(table))

    def drop_tables(self, cur: Cursor) -> None:
        for table in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {table.name}")

    def table_ddl(self, table: Table) -> str:
        columns = ", ".join(
            f"{c.name} {self.types[c.type]}{'' if c.nullable else ' NOT NULL'}"
            for c in table.columns
        )
        return (
            f"CREATE TABLE IF NOT EXISTS {table.name} ({columns}, "
            f"PRIMARY KEY ({table.primary_key}))"
        )

    def create_index(self, cur: Cursor, index: Index) -> None:
        unique = "UNIQUE " if index.unique else ""
        cur.execute(
            f"CREATE {unique}INDEX IF NOT EXISTS {index.name} ON {index.table} "
            f"({', '.join(index.columns)})"
        )

    def drop_index(self, cur: Cursor, index: Index) -> None:
        cur.execute(f"DROP INDEX IF EXISTS {index.name}")

    def present_indexes(self, cur: Cursor) -> set[str]:  # pragma: no cover - abstract
        """Which of the figure table's indexes exist (a catalogue read)."""
        raise NotImplementedError

    def lock_ddl(self, cur: Cursor) -> None:
        """Make processes that change the read models' tables take turns."""

    def before_index_build(self, cur: Cursor) -> None:
        """Settings for building the figure table's indexes after a bulk load."""

    def after_locations(self, cur: Cursor) -> None:
        """What the planner needs after the locations table changed."""

    def before_page(self, cur: Cursor) -> None:
        """Settings for applying one page of the log."""

    def after_bulk_load(self, cur: Cursor) -> None:
        """What the planner needs after a table grew by a backlog (fresh statistics)."""

    # -- rows ------------------------------------------------------------------------------

    def insert_rows(
        self, cur: Cursor, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        cur.executemany(
            self.sql(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})"
            ),
            rows,
        )

    def copy_recorded(self, cur: Cursor, after: int, last: int, *, parsed: bool = False) -> int:
        """Copy the new records of the page (after, last] into the figure and detail tables
        by SQL alone; how many it took (the caller checks it took them all). ``parsed``: a
        prefetch parsed them into its scratch table already."""
        raise NotImplementedError  # pragma: no cover - abstract

    # -- breakdowns, read from the detail rows' JSON ---------------------------------------

    def parts_join(self, dimension: str) -> str:
        """A join, after the figure table as ``v``, giving each part of the version's
        breakdown by ``dimension`` (one of ``ledger.breakdowns.DIMENSIONS``, never user
        text) as ``e.key`` (the value) and ``part_count()`` (its individuals)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def part_count(self) -> str:
        return "e.value"

    def has_dimension(self, dimension: str) -> str:
        """SQL true when the version's breakdowns (``v.breakdowns``) have ``dimension``."""
        raise NotImplementedError  # pragma: no cover - abstract

    # -- questions asked in batches --------------------------------------------------------

    batch_base = 0  # the key of a batch's first element

    def batch(self, rows: Sequence[Sequence[Any]], types: Sequence[str]) -> tuple[str, list[Any]]:
        """A FROM item that yields one row per element of ``rows``, as ``p(key, c0, c1…)``
        (``key`` the element's place, ``types`` the columns' types: text or int), and the
        parameters to bind for it."""
        raise NotImplementedError  # pragma: no cover - abstract

    def seek(self, source: str, table: str, alias: str, condition: str) -> str:
        """FROM items joining each element of a batch (``source``) to the rows of ``table``
        (as ``alias``) that ``condition`` picks for it, by an index seek per element.
        SQLite joins a table-valued function's rows that way by itself."""
        return f"{source} JOIN {table} AS {alias} ON {condition}"

    def prefetch(self, url: str, start: int, page_size: int) -> Any:
        """A second reader that parses pages ahead, where the backend has one (else None)."""
        return None


def models_for(target: str) -> ReadModels:
    """The read-model backend of a ``--db`` target (the event store's, extended)."""
    name = store_for(target).name
    module = importlib.import_module(f"projections.backends.{name}")
    models: ReadModels = module.ReadModelsOf()
    return models


__all__ = ["RECORDED_TOPIC", "VERSION_INDEXES", "ReadModels", "models_for"]
