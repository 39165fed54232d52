"""What the integrity layer adds to a ledger's tables, and bringing a ledger up to date.

* the chain table's ``db_user`` column: who wrote each event, as the database knows it
  (PostgreSQL's ``session_user``, filled in by the database as the default of the
  column; NULL on SQLite, which has no users);
* the Merkle tree table (``ledger.integrity.tree``), filled from the chain when a ledger
  written before it existed is upgraded;
* append-only triggers on the events, chain and tree tables: an UPDATE or DELETE (or, on
  PostgreSQL, TRUNCATE) fails with a message from the database saying so.

``upgrade`` runs when a ledger is created (``LedgerRecorder.create_table``) and whenever a
ledger is opened for writing and any of this is missing (``ledger.storage.open_ledger``);
the DDL itself is the backend's (``ledger.backends``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.backends import Cursor, EventStore

USER_COLUMN = "db_user"


def is_current(store: EventStore, cur: Cursor) -> bool:
    """Whether the ledger has everything this module adds (a few catalogue reads)."""
    return (
        store.has_table(cur, store.chain_table)
        and store.has_column(cur, store.chain_table, USER_COLUMN)
        and store.has_table(cur, store.tree_table)
        and store.is_protected(cur)
    )


def upgrade(store: EventStore, cur: Cursor) -> int | None:
    """Add what is missing, in the caller's transaction, under the append lock (no event
    can be appended while the tree is filled). Returns the number of links a new tree was
    filled with, or None if the tree existed already."""
    from ledger.integrity.errors import NoChain
    from ledger.integrity.tree import TreeAppender

    if not store.has_table(cur, store.chain_table):
        raise NoChain(
            "this ledger has no hash chain (it was created before tamper evidence existed): "
            "it cannot be upgraded in place"
        )
    store.lock_appends(cur)
    if not store.has_column(cur, store.chain_table, USER_COLUMN):
        store.add_user_column(cur, USER_COLUMN)
    filled = None
    if not store.has_table(cur, store.tree_table):
        store.create_tree_table(cur)
        filled = TreeAppender(store).fill(cur)
    store.protect(cur)
    return filled
