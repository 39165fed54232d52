"""The chain table and how links are appended, inside the transaction that stores events.

One row per event: its dense ``position`` in commit order (notification ids may have gaps
on PostgreSQL), the event's notification id, the record it belongs to (so a deleted event
can still be named), and the chain hash. The caller holds the write lock
(PostgreSQL: ``LOCK TABLE ... IN EXCLUSIVE MODE`` on the events table; SQLite: the
database write lock taken by the events INSERT), so reading the head and appending after
it cannot interleave with another writer: concurrent writers produce one linear chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eventsourcing.persistence import StoredEvent
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.orm import Session

from ledger.integrity.encoding import GENESIS, link_hash, originator_hex
from ledger.packing import EventRow, PackedRows
from ledger.pgcopy import copy_rows

_ID = BigInteger().with_variant(Integer(), "sqlite")


def chain_table_name(events_table_name: str) -> str:
    """``dledger_events`` → ``dledger_chain``."""
    return events_table_name.removesuffix("_events") + "_chain"


def define_chain_table(name: str, metadata: MetaData | None = None) -> Table:
    return Table(
        name,
        metadata if metadata is not None else MetaData(),
        Column("position", _ID, primary_key=True, autoincrement=False),
        Column("notification_id", _ID, nullable=False, unique=True),
        Column("originator_id", String(32), nullable=False),
        Column("originator_version", _ID, nullable=False),
        Column("hash", LargeBinary(32), nullable=False),
    )


@dataclass(frozen=True)
class ChainHead:
    """Where the chain ends: its last position and hash, and the notification id the
    next event is expected to get."""

    position: int
    hash: bytes
    next_id: int

    def after(self, count: int, last_hash: bytes) -> ChainHead:
        return ChainHead(self.position + count, last_hash, self.next_id + count)


@dataclass(frozen=True)
class PlannedLinks:
    """Link hashes computed ahead of the insert, against a head that was read earlier.
    They are used only if the head is still that one when the insert holds the write lock
    (``LedgerRecorder.insert_rows`` checks); otherwise they are computed again there."""

    head: ChainHead
    hashes: list[bytes]

    @property
    def end(self) -> ChainHead:
        return self.head.after(len(self.hashes), self.hashes[-1] if self.hashes else self.head.hash)


def read_head(session: Session, table: Table) -> tuple[int, bytes]:
    """The chain's last (position, hash); (0, GENESIS) for an empty chain."""
    head = session.execute(
        select(table.c.position, table.c.hash).order_by(table.c.position.desc()).limit(1)
    ).first()
    return (int(head[0]), bytes(head[1])) if head else (0, GENESIS)


def link_hashes(
    position: int, previous: bytes, first_id: int, rows: Sequence[EventRow]
) -> list[bytes]:
    """The hashes of the links after ``(position, previous)`` for rows whose notification
    ids run consecutively from ``first_id`` (as SQLite numbers a batch)."""
    hashes = []
    for offset, (oid, version, topic, state) in enumerate(rows, 1):
        previous = link_hash(
            previous, position + offset, first_id + offset - 1, oid.hex(), version, topic, state
        )
        hashes.append(previous)
    return hashes


def insert_links_sqlite(
    conn: Connection,
    table: Table,
    position: int,
    first_id: int,
    packed: PackedRows,
    hashes: list[bytes],
) -> None:
    """The links after ``position`` for the rows ``packed`` holds, numbered from
    ``first_id``: one set-based INSERT per packed part, as the events were inserted."""
    statement = (
        f"INSERT INTO {table.name} "
        "(position, notification_id, originator_id, originator_version, hash) "
        "SELECT ? + j.key, ? + j.key, lower(hex(substr(?, 16 * j.key + 1, 16))), "
        "j.value ->> 0, substr(?, 32 * j.key + 1, 32) FROM json_each(?) AS j"
    )
    done = 0
    for part in packed.parts:
        conn.exec_driver_sql(
            statement,
            (
                position + done + 1,
                first_id + done,
                part.originator_ids,
                b"".join(hashes[done : done + part.count]),
                part.rows,
            ),
        )
        done += part.count


def append_links(
    session: Session, table: Table, ids: Sequence[int], events: Sequence[StoredEvent]
) -> None:
    """Append one link per event (in notification-id order) after the current head
    (PostgreSQL; SQLite's inserts go through ``LedgerRecorder.insert_rows``)."""
    if not events:
        return
    position, previous = read_head(session, table)
    rows = []
    for nid, e in zip(ids, events, strict=True):
        position += 1
        oid = originator_hex(e.originator_id)
        previous = link_hash(previous, position, nid, oid, e.originator_version, e.topic, e.state)
        rows.append((position, nid, oid, e.originator_version, previous))
    copy_rows(session.connection(), table.name, [c.name for c in table.columns], rows)
