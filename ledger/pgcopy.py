"""PostgreSQL ``COPY`` on the connection of the current transaction.

Bulk paths (the event insert, the chain links) send their rows with ``COPY … FROM STDIN``:
no SQL text to build and parse per batch, no per-row parameter processing. Errors from
the driver come out as SQLAlchemy's (a duplicate key as ``IntegrityError``), as they
would from any other statement, so the callers' error handling does not change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


def copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    import psycopg

    raw: Any = conn.connection.driver_connection
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as error:
        raise DBAPIError.instance(statement, None, error, psycopg.Error) from error
