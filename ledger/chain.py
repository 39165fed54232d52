"""Tamper evidence for a ledger: its chain head, verification, and checkpoints.

Every stored event is linked, in the transaction that stores it, into a SHA-256 hash chain
in commit order (``ledger.backends.EventStore.append``). ``verify`` recomputes it from the
events; a checkpoint kept elsewhere proves that nothing up to it was rewritten since.
Everything here reads through the backend's own driver connection (``open_log``), in one
read-only transaction, so a verification sees one state of the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ledger.backends import CHAIN_TABLE, EVENTS_TABLE, Connection, Cursor, EventStore, store_for
from ledger.errors import LedgerNotInitialised
from ledger.integrity.checkpoint import Checkpoint, CheckpointStatement
from ledger.integrity.encoding import GENESIS
from ledger.integrity.errors import NoChain
from ledger.integrity.verify import ChainWalk, Problem, Verification
from ledger.targets import database_url, safe_target

__all__ = [
    "Checkpoint",
    "CheckpointStatement",
    "Log",
    "Problem",
    "Verification",
    "open_log",
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

    def verify(self, checkpoint: Checkpoint | None = None) -> Verification:
        """Recompute the whole chain, streaming; with ``checkpoint``, also prove the log
        still holds, unchanged, everything up to it."""
        with self.reading() as cur:
            return ChainWalk(self.store, cur).run(checkpoint)

    def statement(self, now: datetime | None = None) -> CheckpointStatement:
        """A checkpoint of the current head, timed now (unsigned; see checkpoint.sign)."""
        return CheckpointStatement(self.head(), (now or datetime.now(UTC)).replace(microsecond=0))

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
