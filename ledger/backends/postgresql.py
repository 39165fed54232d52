"""The event store on PostgreSQL, through psycopg 3.

Appends are serialised by a transaction-scoped advisory lock, taken before any id is
drawn and held until commit, so notification ids commit in increasing order and the
chain's head cannot move under a writer. (eventsourcing-sqlalchemy's own recorder takes
``LOCK TABLE … IN EXCLUSIVE MODE``, which a role with only INSERT and SELECT on the table
may not take; the advisory lock needs no privilege and blocks no reader.) A batch's ids
are drawn from the events table's own sequence, then the rows go in by one ``COPY``.

Every session runs with ``jit = off``: the ledger's statements are index seeks and
page-sized copies, and on a log that just grew by millions of rows PostgreSQL's stale
estimates made it compile statements to machine code that took longer to compile than
to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit
from uuid import UUID

from ledger.backends import (
    Connection,
    Cursor,
    EventRow,
    EventStore,
)
from ledger.errors import StorageUnavailable

APPEND_LOCK = 0x646C6567  # "dleg": one appender at a time, for the whole transaction
NO_JIT = "-c jit=off"


def connect_arguments(url: str) -> dict[str, Any]:
    """libpq keywords of an SQLAlchemy-style URL (``postgresql+psycopg://u:p@h:5432/db?…``)."""
    parts = urlsplit(url)
    arguments: dict[str, Any] = {}
    if parts.hostname:
        arguments["host"] = parts.hostname
    if parts.port:
        arguments["port"] = parts.port
    if parts.username:
        arguments["user"] = unquote(parts.username)
    if parts.password is not None:
        arguments["password"] = unquote(parts.password)
    if parts.path.strip("/"):
        arguments["dbname"] = unquote(parts.path.lstrip("/"))
    arguments.update(parse_qsl(parts.query))
    arguments["options"] = f"{NO_JIT} {arguments.get('options', '')}".strip()
    return arguments


class PostgresStore(EventStore):
    name = "postgresql"
    placeholder = "%s"

    def write_url(self, url: str) -> str:
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
        options = dict(parse_qsl(parts.query)).get("options", "")
        query.append(("options", f"{NO_JIT} {options}".strip()))
        return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))

    def connect(self, url: str) -> Connection:
        import psycopg

        from ledger.targets import safe_target, scrub

        try:
            return psycopg.connect(**connect_arguments(url), autocommit=True)
        except psycopg.Error as error:
            reason = scrub(str(error).strip().splitlines()[0] if str(error) else "", url)
            raise StorageUnavailable(
                f"cannot open the ledger at {safe_target(url)}: {reason or type(error).__name__}"
            ) from None

    def sql(self, statement: str) -> str:
        return statement.replace("%", "%%").replace("?", "%s")

    @contextmanager
    def transaction(self, conn: Connection) -> Iterator[Cursor]:
        with conn.transaction(), conn.cursor() as cur:
            yield cur

    @contextmanager
    def snapshot(self, conn: Connection) -> Iterator[Cursor]:
        import psycopg

        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            with conn.transaction(force_rollback=True), conn.cursor() as cur:
                yield cur
        finally:
            conn.isolation_level = None
            conn.read_only = None

    @contextmanager
    def streaming(self, conn: Connection) -> Iterator[Cursor]:
        # a server-side cursor: psycopg's ordinary one holds the whole result in memory
        import psycopg

        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            with conn.transaction(force_rollback=True), conn.cursor(name="dledger_stream") as cur:
                yield cur
        finally:
            conn.isolation_level = None
            conn.read_only = None

    def has_table(self, cur: Cursor, name: str) -> bool:
        cur.execute("SELECT to_regclass(%s)", (name,))
        row = cur.fetchone()
        return row is not None and row[0] is not None

    def originator_param(self, record_id: UUID) -> Any:
        return record_id

    def is_conflict(self, error: BaseException) -> bool:
        import psycopg

        return isinstance(error, psycopg.IntegrityError)

    def failure(self, error: BaseException, target: str) -> str | None:
        import psycopg
        from psycopg import errors

        from ledger.targets import safe_target

        if not isinstance(error, psycopg.Error):
            return None
        line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if isinstance(error, errors.DiskFull):
            return "the database server's disk is full; nothing was written"
        if isinstance(error, errors.LockNotAvailable | errors.DeadlockDetected):
            return "the ledger is busy: another process holds it; try again"
        if isinstance(error, errors.InsufficientPrivilege):
            return f"the database user may not do this: {line}"
        if isinstance(error, errors.ReadOnlySqlTransaction):
            return "the database is read-only here; nothing was written"
        if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
            return f"cannot reach the ledger's database at {safe_target(target)}: {line}"
        return f"the ledger's database failed: {line}"

    def lock_appends(self, cur: Cursor) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))

    def insert_events(self, cur: Cursor, rows: Sequence[EventRow]) -> list[int]:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            (self.events_table, len(rows)),
        )
        ids = sorted(int(r[0]) for r in cur.fetchall())
        copy_rows(
            cur,
            self.events_table,
            ("id", "originator_id", "originator_version", "topic", "state"),
            (
                (i, UUID(bytes=oid), version, topic, state)
                for i, (oid, version, topic, state) in zip(ids, rows, strict=True)
            ),
        )
        return ids

    def insert_links(
        self, cur: Cursor, links: Sequence[tuple[int, int, bytes, int, bytes]]
    ) -> None:
        copy_rows(
            cur,
            self.chain_table,
            ("position", "notification_id", "originator_id", "originator_version", "hash"),
            ((p, n, oid.hex(), v, h) for p, n, oid, v, h in links),
        )


def copy_rows(
    cur: Cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """``COPY … FROM STDIN``: no SQL text to build per batch, no per-row parameters."""
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
