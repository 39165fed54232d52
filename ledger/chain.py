"""Tamper evidence for a ledger: its chain head and Merkle root, verification, checkpoints
and the proofs a third party checks without the ledger.

Every stored event is linked, in the transaction that stores it, into a SHA-256 hash chain
in commit order, and the chain's links are the leaves of an RFC 9162 Merkle tree kept in
the same transaction (``ledger.backends.EventStore.append``). ``verify`` recomputes both
from the events; a checkpoint kept elsewhere proves that nothing up to it was rewritten
since, and a consistency proof shows that a later checkpoint's log extends an earlier one.
Everything here reads through the backend's own driver connection (``open_log``), in one
read-only transaction, so a verification sees one state of the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ledger.backends import CHAIN_TABLE, EVENTS_TABLE, Connection, Cursor, EventStore, store_for
from ledger.errors import LedgerNotInitialised
from ledger.integrity.checkpoint import Checkpoint, CheckpointStatement
from ledger.integrity.consistency import Consistency, prove_consistency
from ledger.integrity.encoding import GENESIS
from ledger.integrity.errors import NoChain
from ledger.integrity.schema import USER_COLUMN
from ledger.integrity.tree import StoredTree, check_tree
from ledger.integrity.verify import ChainWalk, Problem, Verification
from ledger.targets import database_url, safe_target

__all__ = [
    "Checkpoint",
    "CheckpointStatement",
    "Consistency",
    "Log",
    "Problem",
    "Verification",
    "open_log",
    "session_users",
    "statement_at",
]


class Log:
    """The event log and its chain, on one connection."""

    def __init__(self, store: EventStore, conn: Connection) -> None:
        self.store = store
        self.conn = conn

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        with self.store.snapshot(self.conn) as cur:
            if not self.store.has_table(cur, CHAIN_TABLE):
                raise NoChain(
                    "this ledger has no hash chain (it was created before tamper evidence existed)"
                )
            yield cur

    def head(self) -> Checkpoint:
        """The chain's current head as stored (fast; ``verify`` proves it)."""
        with self.reading() as cur:
            return self._latest_link(cur, None)

    def verify(self, checkpoint: Checkpoint | None = None, root: str | None = None) -> Verification:
        """Recompute the whole chain, streaming, then the Merkle tree from it (every stored
        node compared); with ``checkpoint``, also prove the log still holds, unchanged,
        everything up to it (and, with the checkpoint's ``root``, that the tree does)."""
        with self.reading() as cur:
            walked = ChainWalk(self.store, cur).run(checkpoint)
            if not walked.intact:
                return walked
            tree = check_tree(self.store, cur, checkpoint.position if checkpoint else None)
            walked = replace(walked, tree_root=tree.root.hex(), tree_stored=tree.stored)
            if tree.problem is not None:
                problem = Problem("tree altered", walked.head.position, tree.problem)
                return replace(walked, problem=problem, checkpoint_checked=None)
            recomputed = tree.root_at.hex() if tree.root_at is not None else None
            if checkpoint is not None and root is not None and recomputed != root:
                problem = Problem(
                    "checkpoint mismatch",
                    checkpoint.position,
                    f"the history up to the checkpoint was rewritten: the Merkle root of the "
                    f"first {checkpoint.position} links is {recomputed}, the checkpoint says "
                    f"{root}",
                )
                return replace(walked, problem=problem, checkpoint_checked=None)
            return walked

    def statement(self, now: datetime | None = None) -> CheckpointStatement:
        """A checkpoint of the current head and the tree's root there, timed now (unsigned;
        see checkpoint.sign)."""
        with self.reading() as cur:
            return statement_at(self.store, cur, None, now)

    def consistency(self, old: CheckpointStatement, now: datetime | None = None) -> Consistency:
        """A checkpoint of the current head, with the proof that its log extends the log
        of ``old`` (refused, naming the mismatch, if the history before ``old`` was
        rewritten)."""
        with self.reading() as cur:
            new = statement_at(self.store, cur, None, now)
            return prove_consistency(StoredTree(self.store, cur), cur, self.store, old, new)

    def at_position(self, notification_id: int) -> Checkpoint:
        """The chain head as it stood once the event at ``notification_id`` was stored:
        what a result computed from the log up to that event was computed from."""
        with self.reading() as cur:
            return self._latest_link(cur, notification_id)

    def _latest_link(self, cur: Cursor, notification_id: int | None) -> Checkpoint:
        return latest_link(self.store, cur, notification_id)


def latest_link(store: EventStore, cur: Cursor, notification_id: int | None) -> Checkpoint:
    """The chain's head, or (``notification_id``) its head once that event was stored.
    Positions and notification ids grow together, so the notification id's own index
    finds it with one seek."""
    where = "" if notification_id is None else "WHERE notification_id <= ? "
    params: Any = () if notification_id is None else (notification_id,)
    cur.execute(
        store.sql(
            f"SELECT position, hash FROM {CHAIN_TABLE} {where}ORDER BY notification_id DESC LIMIT 1"
        ),
        params,
    )
    row = cur.fetchone()
    if row is None:
        return Checkpoint(0, GENESIS.hex())
    return Checkpoint(int(row[0]), bytes(row[1]).hex())


def statement_at(
    store: EventStore, cur: Cursor, notification_id: int | None, now: datetime | None = None
) -> CheckpointStatement:
    """A checkpoint of the log as it stood once the event at ``notification_id`` was stored
    (None: the head), with the Merkle root there, timed now."""
    head = latest_link(store, cur, notification_id)
    root = StoredTree(store, cur).root(head.position).hex()
    return CheckpointStatement(head, (now or datetime.now(UTC)).replace(microsecond=0), root=root)


def session_users(store: EventStore, cur: Cursor, positions: Iterable[int]) -> dict[int, str]:
    """Who wrote each of these events, as the database knows it (notification id → the
    PostgreSQL session user that appended it). Events without one are left out: SQLite
    has no users, and links written before the column existed have none."""
    wanted = sorted(set(positions))
    found: dict[int, str] = {}
    if not wanted or not store.has_column(cur, store.chain_table, USER_COLUMN):
        return found
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        cur.execute(
            store.sql(
                f"SELECT notification_id, {USER_COLUMN} FROM {store.chain_table} "
                f"WHERE {USER_COLUMN} IS NOT NULL AND notification_id IN "
                f"({', '.join('?' for _ in chunk)})"
            ),
            chunk,
        )
        found.update((int(nid), str(user)) for nid, user in cur.fetchall())
    return found


def open_log(target: str) -> Log:
    """The log of the ledger at ``target`` (a path or a URL)."""
    url = database_url(target)
    store = store_for(url)
    try:
        conn = store.connect(url)
    except LedgerNotInitialised:
        raise LedgerNotInitialised(safe_target(target)) from None
    with store.snapshot(conn) as cur:
        found = store.has_table(cur, EVENTS_TABLE)
    if not found:
        conn.close()
        raise LedgerNotInitialised(safe_target(target))
    return Log(store, conn)
