"""The Merkle tree the ledger keeps in its database: roots and proofs read from the stored
nodes are those of RFC 9162 over the chain's links, however the events were batched, and
``verify`` recomputes it and names a node that was altered."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.backends import Cursor, EventStore
from ledger.chain import open_log
from ledger.integrity import merkle
from ledger.integrity.checkpoint import parse_checkpoint
from ledger.integrity.tree import StoredTree, leaf_of
from tests.chain_tampering import sql, target_of, verify
from tests.tampering import tamper

TOPIC = "ledger.records:FigureRecord.Recorded"


def append(ledger: Ledger, count: int) -> None:
    from eventsourcing.persistence import StoredEvent

    state = b'{"individuals":1}'
    ledger.recorder.insert_events([StoredEvent(uuid4(), 1, TOPIC, state) for _ in range(count)])


@contextmanager
def stored(ledger: Ledger) -> Iterator[tuple[EventStore, Cursor, list[bytes]]]:
    """The log's store, a read cursor, and the leaf hashes recomputed from the chain."""
    log = open_log(target_of(ledger))
    try:
        with log.reading() as cur:
            cur.execute("SELECT hash FROM dledger_chain ORDER BY position")
            leaves = [leaf_of(bytes(h)) for (h,) in cur.fetchall()]
            yield log.store, cur, leaves
    finally:
        log.close()


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.integers(1, 40), min_size=1, max_size=5))
def test_stored_roots_and_proofs_are_rfc_9162s_however_events_were_batched(
    fresh_ledger: Callable[[], Ledger], batches: list[int]
) -> None:
    ledger = fresh_ledger()
    for count in batches:
        append(ledger, count)
    with stored(ledger) as (store, cur, leaves):
        tree = StoredTree(store, cur)
        size = len(leaves)
        for n in range(size + 1):
            assert tree.root(n) == merkle.root(leaves[:n])
        proofs = tree.inclusion_proofs(size, range(size))
        assert all(proofs[i] == merkle.inclusion_proof(i, leaves) for i in range(size))
        for old in range(1, size + 1):
            assert tree.consistency_proof(old, size) == merkle.consistency_proof(old, leaves)


def test_two_writers_taking_turns_keep_one_tree(ledger: Ledger) -> None:
    from ledger.storage import close_ledger, open_ledger

    other = open_ledger(target_of(ledger))
    try:
        for _ in range(6):
            append(ledger, 7)
            append(other, 5)
    finally:
        close_ledger(other)
    result = verify(ledger)
    assert result.intact and result.tree_stored
    with stored(ledger) as (_, _, leaves):
        assert result.tree_root == merkle.root(leaves).hex()


def test_an_altered_tree_node_is_named_by_verify(ledger: Ledger) -> None:
    append(ledger, 40)
    tamper(
        ledger, "UPDATE dledger_tree SET hash = :h WHERE position = 32 AND height = 5", h=bytes(32)
    )
    problem = verify(ledger).problem
    assert problem is not None and problem.kind == "tree altered"
    assert "positions 1–32 (height 5) does not match the chain" in problem.message


def test_a_deleted_tree_node_is_named_by_verify(ledger: Ledger) -> None:
    append(ledger, 40)
    tamper(ledger, "DELETE FROM dledger_tree WHERE position = 16")
    problem = verify(ledger).problem
    assert problem is not None and problem.kind == "tree altered"
    assert "lacks its node for positions 1–16" in problem.message


def test_a_checkpoint_carries_the_root_and_verify_checks_it(ledger: Ledger) -> None:
    append(ledger, 20)
    log = open_log(target_of(ledger))
    try:
        taken = log.statement()
        with stored(ledger) as (_, _, leaves):
            assert taken.root == merkle.root(leaves).hex()
        append(ledger, 3)
        assert log.verify(taken.checkpoint, taken.root).intact
        forged = log.verify(taken.checkpoint, "ab" * 32)
        assert forged.problem is not None and forged.problem.kind == "checkpoint mismatch"
        assert "the Merkle root of the first 22 links is" in forged.problem.message
    finally:
        log.close()


def test_a_version_1_checkpoint_written_before_still_verifies(ledger: Ledger) -> None:
    append(ledger, 5)
    position, chain_hash = sql(
        ledger, "SELECT position, hash FROM dledger_chain ORDER BY position DESC LIMIT 1"
    )[0]
    old = parse_checkpoint(
        f"dledger checkpoint 1\nposition {position}\nhash {bytes(chain_hash).hex()}\n"
        "time 2026-11-27T20:35:38Z\n"
    )
    assert old.root is None and old.version == 1
    append(ledger, 5)
    log = open_log(target_of(ledger))
    try:
        result = log.verify(old.checkpoint, old.root)
    finally:
        log.close()
    assert result.intact and result.checkpoint_checked == old.checkpoint
