"""Tamper evidence for a ledger: its chain head, verification, and checkpoints.

Every stored event is linked, in the transaction that stores it, into a SHA-256 hash chain
in commit order (``ledger.integrity.links``). ``verify`` recomputes the chain from the
events; a checkpoint kept elsewhere proves that nothing up to it was rewritten since.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ledger.integrity.checkpoint import Checkpoint, CheckpointStatement
from ledger.integrity.encoding import GENESIS
from ledger.integrity.errors import NoChain
from ledger.integrity.verify import ChainWalk, Problem, Verification

if TYPE_CHECKING:
    from sqlalchemy import Engine, Table

    from ledger.application import Ledger

__all__ = [
    "Checkpoint",
    "CheckpointStatement",
    "Problem",
    "Verification",
    "head",
    "statement",
    "verify",
]


def _storage(ledger: Ledger) -> tuple[Engine, Table, Table]:
    from sqlalchemy import Engine, inspect

    from ledger.persistence import LedgerRecorder

    recorder = ledger.recorder
    if not isinstance(recorder, LedgerRecorder):
        raise NoChain("this ledger's storage keeps no hash chain")
    engine = recorder.datastore.engine
    if not isinstance(engine, Engine):
        raise NoChain("this ledger's storage has no database engine to verify")
    with engine.connect() as connection:
        if not inspect(connection).has_table(recorder.chain_table.name):
            raise NoChain(
                "this ledger has no hash chain (it was created before tamper evidence existed)"
            )
    return engine, recorder.events_record_cls.__table__, recorder.chain_table


def head(ledger: Ledger) -> Checkpoint:
    """The chain's current head as stored (fast; ``verify`` proves it)."""
    return _latest_link(ledger, None)


def verify(ledger: Ledger, checkpoint: Checkpoint | None = None) -> Verification:
    """Recompute the whole chain, streaming; with ``checkpoint``, also prove the log still
    holds, unchanged, everything up to it."""
    engine, events, chain = _storage(ledger)
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        return ChainWalk(connection, events, chain).run(checkpoint)


def statement(ledger: Ledger, now: datetime | None = None) -> CheckpointStatement:
    """A checkpoint of the current head, timed now (unsigned; see integrity.checkpoint.sign)."""
    return CheckpointStatement(head(ledger), (now or datetime.now(UTC)).replace(microsecond=0))


def at_position(ledger: Ledger, notification_id: int) -> Checkpoint:
    """The chain head as it stood once the event at ``notification_id`` was stored: what a
    result computed from the log up to that event was computed from."""
    return _latest_link(ledger, notification_id)


def _latest_link(ledger: Ledger, notification_id: int | None) -> Checkpoint:
    from sqlalchemy import select

    engine, _, chain = _storage(ledger)
    query = select(chain.c.position, chain.c.hash).order_by(chain.c.position.desc()).limit(1)
    if notification_id is not None:
        query = query.where(chain.c.notification_id <= notification_id)
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return Checkpoint(0, GENESIS.hex())
    return Checkpoint(int(row[0]), bytes(row[1]).hex())
