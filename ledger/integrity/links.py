"""The chain table: one link per stored event, written in the transaction that stores it.

One row per event: its dense ``position`` in commit order (notification ids may have gaps
on PostgreSQL), the event's notification id, the record it belongs to (so a deleted event
can still be named), and the chain hash. Links are appended by ``EventStore.append``
(``ledger.backends``) under the append lock, so concurrent writers make one linear chain.

Creating the table also gives it what ``ledger.integrity.schema`` adds (the ``db_user``
column, the Merkle tree's table, the append-only triggers), in the same transaction, so a
recorder that creates its tables can append at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, String, Table, event

_ID = BigInteger().with_variant(Integer(), "sqlite")


def define_chain_table(name: str, metadata: MetaData | None = None) -> Table:
    """The table as the write side creates it with the events table (``dledger init``)."""
    table = Table(
        name,
        metadata if metadata is not None else MetaData(),
        Column("position", _ID, primary_key=True, autoincrement=False),
        Column("notification_id", _ID, nullable=False, unique=True),
        Column("originator_id", String(32), nullable=False),
        Column("originator_version", _ID, nullable=False),
        Column("hash", LargeBinary(32), nullable=False),
    )
    event.listen(table, "after_create", _add_integrity)
    return table


def _add_integrity(table: Table, connection: Any, **_: Any) -> None:
    from ledger.backends import store_for
    from ledger.integrity.schema import upgrade

    store = store_for(str(connection.engine.url), table.name.removesuffix("_chain") + "_events")
    cur = connection.connection.driver_connection.cursor()
    try:
        upgrade(store, cur)
    finally:
        cur.close()
