"""Storage: eventsourcing-sqlalchemy with a recorder that inserts in bulk.

The library's recorder adds one ORM object per event; ours sends one driver-level
``executemany`` (SQLite) or one ``COPY`` with ids drawn from the table's sequence
(PostgreSQL), in the same transaction and under the same table lock, so the ordering and
optimistic-concurrency guarantees are unchanged (the library's own recorder test suites
run against it: tests/test_recorder_contract.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy.orm import Session

from ledger.integrity.links import append_links, chain_table_name, define_chain_table
from ledger.pgcopy import copy_rows


class LedgerRecorder(SQLAlchemyApplicationRecorder):
    """Application recorder with a bulk insert path and the hash chain (ledger.integrity)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chain_table = define_chain_table(chain_table_name(self.events_table_name))
        self.tables.append(self.chain_table)  # created with the events table

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        if not stored_events:
            return []
        self._lock_table(session)
        if session.get_bind().dialect.name == "sqlite":
            ids = self._insert_sqlite(session, stored_events)
        else:
            ids = self._insert_copy(session, stored_events)
        self.after_insert(session, ids, stored_events)
        self._notify_channel(session)
        return ids

    def _insert_sqlite(self, session: Session, stored_events: Sequence[StoredEvent]) -> list[int]:
        """One driver-level ``executemany``; the ids are then the last ``n`` of the table.

        SQLAlchemy cannot batch ``RETURNING`` in parameter order on SQLite and falls back
        to one statement per row (and its UUID type converts in Python, row by row). SQLite
        has one writer at a time and numbers new rows max(id) + 1, in order, so after the
        insert (still holding the write lock) our rows are the last ``n`` ids, consecutive;
        the first and last are checked against what was sent before anything commits."""
        name = self.events_table_name
        conn = session.connection()
        conn.exec_driver_sql(
            f"INSERT INTO {name} (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)",
            [
                (_id_bytes(e.originator_id), e.originator_version, e.topic, e.state)
                for e in stored_events
            ],
        )
        last = int(conn.exec_driver_sql(f"SELECT max(id) FROM {name}").scalar_one())
        first = last - len(stored_events) + 1
        ends = conn.exec_driver_sql(
            f"SELECT id, originator_id, originator_version FROM {name} WHERE id IN (?, ?)",
            (first, last),
        ).all()
        sent = {first: stored_events[0], last: stored_events[-1]}
        expected = {i: (_id_bytes(e.originator_id), e.originator_version) for i, e in sent.items()}
        if {r[0]: (bytes(r[1]), r[2]) for r in ends} != expected:
            raise RuntimeError("notification ids out of step with the inserted events")
        return list(range(first, last + 1))

    def _insert_copy(self, session: Session, stored_events: Sequence[StoredEvent]) -> list[int]:
        """PostgreSQL: ids drawn from the table's own sequence, then one ``COPY``.

        The caller holds the table lock (``LOCK TABLE … IN EXCLUSIVE MODE``), so no other
        writer draws ids or inserts until this transaction ends: the ids are increasing in
        the order of the events, as an ``INSERT … RETURNING`` would give them, and commit
        in that order. A duplicate (originator id, version) fails the COPY with the same
        IntegrityError an INSERT would raise."""
        name = self.events_table_name
        if self.schema_name is not None:
            name = f"{self.schema_name}.{name}"
        conn = session.connection()
        ids = sorted(
            conn.exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence(%(table)s, 'id')) "
                "FROM generate_series(1, %(n)s)",
                {"table": name, "n": len(stored_events)},
            ).scalars()
        )
        copy_rows(
            conn,
            name,
            ("id", "originator_id", "originator_version", "topic", "state"),
            (
                (i, e.originator_id, e.originator_version, e.topic, e.state)
                for i, e in zip(ids, stored_events, strict=True)
            ),
        )
        return ids

    def after_insert(
        self, session: Session, ids: Sequence[int], stored_events: Sequence[StoredEvent]
    ) -> None:
        """Called inside the write transaction with the events just inserted and their
        notification ids."""
        append_links(session, self.chain_table, ids, stored_events)


def _id_bytes(originator_id: UUID | str) -> bytes:
    """The 16 bytes the events table stores on SQLite (its UUID column type's format)."""
    return (originator_id if isinstance(originator_id, UUID) else UUID(originator_id)).bytes


class LedgerFactory(SQLAlchemyFactory):
    application_recorder_class = LedgerRecorder
