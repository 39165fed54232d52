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

from eventsourcing.persistence import Notification
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
)
from sqlalchemy.orm import Session

from ledger.integrity.encoding import GENESIS, link_hash, originator_hex

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


def append_links(session: Session, table: Table, notifications: Sequence[Notification]) -> None:
    """Append one link per notification (in notification order) after the current head."""
    if not notifications:
        return
    head = session.execute(
        select(table.c.position, table.c.hash).order_by(table.c.position.desc()).limit(1)
    ).first()
    position, previous = (int(head[0]), bytes(head[1])) if head else (0, GENESIS)
    rows = []
    for n in notifications:
        position += 1
        oid = originator_hex(n.originator_id)
        previous = link_hash(previous, position, n.id, oid, n.originator_version, n.topic, n.state)
        rows.append((position, n.id, oid, n.originator_version, previous))
    if session.get_bind().dialect.name == "sqlite":
        # one driver-level executemany: SQLAlchemy's would bind each row's dict in Python
        session.connection().exec_driver_sql(
            f"INSERT INTO {table.name} (position, notification_id, originator_id, "
            "originator_version, hash) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    else:
        names = ("position", "notification_id", "originator_id", "originator_version", "hash")
        session.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
