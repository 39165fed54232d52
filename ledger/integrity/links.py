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

from eventsourcing.persistence import StoredEvent
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.orm import Session

from ledger.integrity.encoding import GENESIS, link_hash, originator_hex
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


def append_links(
    session: Session, table: Table, ids: Sequence[int], events: Sequence[StoredEvent]
) -> None:
    """Append one link per event (in notification-id order) after the current head."""
    if not events:
        return
    head = session.execute(
        select(table.c.position, table.c.hash).order_by(table.c.position.desc()).limit(1)
    ).first()
    position, previous = (int(head[0]), bytes(head[1])) if head else (0, GENESIS)
    rows = []
    for nid, e in zip(ids, events, strict=True):
        position += 1
        oid = originator_hex(e.originator_id)
        previous = link_hash(previous, position, nid, oid, e.originator_version, e.topic, e.state)
        rows.append((position, nid, oid, e.originator_version, previous))
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        # straight to the driver: SQLAlchemy's per-row parameter processing would cost
        # more than the insert (the values are already the stored types)
        columns = ", ".join(c.name for c in table.columns)
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({columns}) VALUES (?, ?, ?, ?, ?)", rows)
        return
    copy_rows(conn, table.name, [c.name for c in table.columns], rows)
