"""Storage: eventsourcing-sqlalchemy with a recorder that inserts in bulk.

The library's recorder adds one ORM object per event; ours sends one set-based
``INSERT … SELECT`` per batch (SQLite, ``ledger.packing``) or one ``COPY`` with ids drawn
from the table's sequence (PostgreSQL), in the same transaction and under the same table
lock, so the ordering and optimistic-concurrency guarantees are unchanged (the library's
own recorder test suites run against it: tests/test_recorder_contract.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy.orm import Session

from ledger.integrity.links import (
    ChainHead,
    PlannedLinks,
    append_links,
    chain_table_name,
    define_chain_table,
    insert_links_sqlite,
    link_hashes,
    read_head,
)
from ledger.packing import EVENTS_INSERT, PackedRows, pack
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
        if session.get_bind().dialect.name == "sqlite":
            rows = [
                (id_bytes(e.originator_id), e.originator_version, e.topic, e.state)
                for e in stored_events
            ]
            return list(self.insert_rows(session, pack(rows)))
        self._lock_table(session)
        ids = self._insert_copy(session, stored_events)
        append_links(session, self.chain_table, ids, stored_events)
        self._notify_channel(session)
        return ids

    def insert_rows(
        self, session: Session, packed: PackedRows, planned: PlannedLinks | None = None
    ) -> range:
        """SQLite: insert the packed events and their chain links; returns their ids.
        (``_lock_table`` takes no lock on SQLite, where the INSERT takes the database's
        write lock; it is called so that every insert path passes the same steps.)

        One set-based INSERT per packed part (``ledger.packing``); the ids are then the
        last ``n`` of the table. SQLite has one writer at a time and numbers new rows
        max(id) + 1, in order, so after the insert (still holding the write lock) our rows
        are the last ``n`` ids, consecutive; the first and last are checked against what
        was sent before anything commits. ``planned`` link hashes (computed ahead, on
        another thread) are used if the chain head and the first id are the ones they were
        computed against; otherwise the hashes are computed here."""
        self._lock_table(session)
        name = self.events_table_name
        conn = session.connection()
        statement = EVENTS_INSERT.format(table=name)
        for part in packed.parts:
            conn.exec_driver_sql(
                statement, (part.originator_ids, part.states, part.rows, part.topics)
            )
        rows = packed.rows
        last = int(conn.exec_driver_sql(f"SELECT max(id) FROM {name}").scalar_one())
        first = last - len(rows) + 1
        ends = conn.exec_driver_sql(
            f"SELECT id, originator_id, originator_version FROM {name} WHERE id IN (?, ?)",
            (first, last),
        ).all()
        expected = {first: rows[0][:2], last: rows[-1][:2]}
        if {r[0]: (bytes(r[1]), r[2]) for r in ends} != expected:
            raise RuntimeError("notification ids out of step with the inserted events")
        position, previous = read_head(session, self.chain_table)
        if planned is not None and planned.head == ChainHead(position, previous, first):
            hashes = planned.hashes
        else:
            hashes = link_hashes(position, previous, first, rows)
        insert_links_sqlite(conn, self.chain_table, position, first, packed, hashes)
        self._notify_channel(session)
        return range(first, last + 1)

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


def id_bytes(originator_id: UUID | str) -> bytes:
    """The 16 bytes the events table stores on SQLite (its UUID column type's format)."""
    return (originator_id if isinstance(originator_id, UUID) else UUID(originator_id)).bytes


class LedgerFactory(SQLAlchemyFactory):
    application_recorder_class = LedgerRecorder
