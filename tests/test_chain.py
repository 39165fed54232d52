"""verify names each kind of tampering done with raw SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

from uuid import uuid4

import pytest

from ledger import chain
from ledger.application import Ledger
from ledger.integrity.encoding import GENESIS, link_hash, originator_hex
from ledger.reference import mali_locations
from ledger.storage import open_ledger
from tests.chain_tampering import (
    CHAIN,
    EVENTS,
    engine_of,
    event_ids,
    fill,
    head,
    link_of,
    set_state,
    sql,
    state_of,
    verify,
)
from tests.tampering import tamper


@pytest.fixture
def filled(ledger: Ledger) -> Ledger:
    fill(ledger)
    return ledger


def problem_of(ledger: Ledger, checkpoint: chain.Checkpoint | None = None) -> chain.Problem:
    result = verify(ledger, checkpoint)
    assert result.problem is not None, "tampering went undetected"
    return result.problem


def test_an_intact_log_verifies_and_reports_its_head(filled: Ledger) -> None:
    result = verify(filled)
    assert result.intact
    assert result.events_checked == len(event_ids(filled)) > 9
    assert result.head == head(filled)
    assert result.head.position == result.events_checked


def test_an_empty_ledger_verifies(db_target: str) -> None:
    empty = open_ledger(db_target, create=True)
    try:
        result = verify(empty)
        assert result.intact and result.events_checked == 0
        assert result.head == chain.Checkpoint(0, GENESIS.hex()) == head(empty)
    finally:
        empty.close()
        empty.recorder.datastore.engine.dispose()  # type: ignore[attr-defined]


def test_every_event_gets_one_link_in_notification_order(filled: Ledger) -> None:
    links = sql(filled, f"SELECT position, notification_id FROM {CHAIN} ORDER BY position")
    assert [p for p, _ in links] == list(range(1, len(event_ids(filled)) + 1))
    assert [n for _, n in links] == event_ids(filled)


def test_a_changed_state_byte_is_named_as_modified(filled: Ledger) -> None:
    target = event_ids(filled)[4]
    state = bytearray(state_of(filled, target))
    state[10] ^= 0x01
    set_state(filled, target, bytes(state))
    position, record, version = link_of(filled, target)
    problem = problem_of(filled)
    assert (problem.kind, problem.position) == ("modified", position)
    assert problem.message == (
        f"event {target} at position {position} (record {record} version {version}) "
        "was modified (or chain links up to it were altered)"
    )


def test_a_changed_topic_is_named_as_modified(filled: Ledger) -> None:
    target = event_ids(filled)[2]
    tamper(filled, f"UPDATE {EVENTS} SET topic = topic || 'x' WHERE id = :id", id=target)
    problem = problem_of(filled)
    assert (problem.kind, problem.position) == ("modified", link_of(filled, target)[0])


def test_a_deleted_event_is_named_with_its_record(filled: Ledger) -> None:
    target = event_ids(filled)[3]
    position, record, version = link_of(filled, target)
    tamper(filled, f"DELETE FROM {EVENTS} WHERE id = :id", id=target)
    problem = problem_of(filled)
    assert (problem.kind, problem.position) == ("deleted", position)
    assert f"event {target} at position {position}" in problem.message
    assert f"record {record} version {version}" in problem.message


def test_an_event_deleted_with_its_link_leaves_a_gap(filled: Ledger) -> None:
    target = event_ids(filled)[3]
    position = link_of(filled, target)[0]
    tamper(filled, f"DELETE FROM {CHAIN} WHERE notification_id = :id", id=target)
    tamper(filled, f"DELETE FROM {EVENTS} WHERE id = :id", id=target)
    problem = problem_of(filled)
    assert (problem.kind, problem.position) == ("deleted", position)


def test_a_forged_event_is_named_as_inserted(filled: Ledger) -> None:
    last = event_ids(filled)[-1]
    forged = uuid4()
    sqlite = engine_of(filled).dialect.name == "sqlite"
    oid = forged.bytes if sqlite else str(forged)  # as sqlalchemy_utils' UUIDType stores it
    sql(
        filled,
        f"INSERT INTO {EVENTS} (id, originator_id, originator_version, topic, state) "
        "VALUES (:id, :oid, 1, 'ledger.records:FigureRecord.Recorded', :state)",
        id=last + 5,
        oid=oid,
        state=b"{}",
    )
    problem = problem_of(filled)
    assert problem.kind == "inserted"
    assert problem.message.startswith(f"event {last + 5} (record {forged.hex} version 1)")


def test_an_event_whose_link_was_removed_is_named(filled: Ledger) -> None:
    target = event_ids(filled)[5]
    tamper(filled, f"DELETE FROM {CHAIN} WHERE notification_id = :id", id=target)
    problem = problem_of(filled)
    assert problem.kind == "inserted"
    assert problem.message.startswith(f"event {target} ")


def test_two_swapped_events_are_named_as_reordered(filled: Ledger) -> None:
    a, b = event_ids(filled)[2], event_ids(filled)[6]
    columns = "originator_id, originator_version, topic, state"
    row_a = sql(filled, f"SELECT {columns} FROM {EVENTS} WHERE id = :id", id=a)[0]
    row_b = sql(filled, f"SELECT {columns} FROM {EVENTS} WHERE id = :id", id=b)[0]
    update = (
        f"UPDATE {EVENTS} SET originator_id = :o, originator_version = :v, topic = :t, "
        "state = :s WHERE id = :id"
    )
    tamper(filled, update, o=row_a[0], v=-1, t="", s=b"", id=a)  # free the unique key
    tamper(filled, update, o=row_a[0], v=row_a[1], t=row_a[2], s=row_a[3], id=b)
    tamper(filled, update, o=row_b[0], v=row_b[1], t=row_b[2], s=row_b[3], id=a)
    position_a, position_b = link_of(filled, a)[0], link_of(filled, b)[0]
    problem = problem_of(filled)
    assert (problem.kind, problem.position) == ("reordered", position_a)
    assert f"holds the event recorded at position {position_b}" in problem.message


def test_deleting_the_last_events_is_named_as_truncation(filled: Ledger) -> None:
    ids = event_ids(filled)
    tamper(filled, f"DELETE FROM {EVENTS} WHERE id >= :id", id=ids[-3])
    cut = len(ids) - 2
    problem = problem_of(filled)
    assert (problem.kind, problem.position) == ("truncated", cut)
    assert problem.message.startswith(f"the log was truncated: event {ids[-3]} at position {cut}")


def test_truncating_events_and_links_is_caught_by_a_later_checkpoint(filled: Ledger) -> None:
    kept = head(filled)
    ids = event_ids(filled)
    tamper(filled, f"DELETE FROM {CHAIN} WHERE notification_id >= :id", id=ids[-3])
    tamper(filled, f"DELETE FROM {EVENTS} WHERE id >= :id", id=ids[-3])
    assert verify(filled).intact  # without a checkpoint, a clean cut is invisible
    problem = problem_of(filled, kept)
    assert problem.kind == "truncated"
    assert problem.message == (
        f"the log was truncated: its head is position {kept.position - 3}, "
        f"behind the checkpoint's position {kept.position}"
    )


def test_an_altered_link_hash_is_caught_at_its_position(filled: Ledger) -> None:
    tamper(filled, f"UPDATE {CHAIN} SET hash = :h WHERE position = 4", h=bytes(32))
    problem = problem_of(filled)
    assert (problem.kind, problem.position) == ("modified", 4)
    assert problem.message.endswith("was modified (or chain links up to it were altered)")


@pytest.mark.parametrize("column", ["originator_version", "originator_id"])
def test_a_link_naming_another_record_is_named_as_altered(filled: Ledger, column: str) -> None:
    value = 99 if column == "originator_version" else "0" * 32
    tamper(filled, f"UPDATE {CHAIN} SET {column} = :v WHERE position = 4", v=value)
    problem = problem_of(filled)
    assert (problem.kind, problem.position) == ("link altered", 4)


def test_a_consistently_rewritten_chain_is_caught_only_by_a_checkpoint(filled: Ledger) -> None:
    kept = head(filled)
    target = event_ids(filled)[1]
    set_state(filled, target, state_of(filled, target).replace(b"10", b"99", 1))
    _recompute_every_link(filled)  # the attacker knows the (public) algorithm
    assert verify(filled).intact
    problem = problem_of(filled, kept)
    assert (problem.kind, problem.position) == ("checkpoint mismatch", kept.position)
    assert problem.message.startswith("the history up to the checkpoint was rewritten")


def test_an_earlier_checkpoint_still_holds_after_more_writes(filled: Ledger) -> None:
    kept = head(filled)
    fill(filled, records=2)
    result = verify(filled, kept)
    assert result.intact and result.checkpoint_checked == kept
    assert result.head.position > kept.position


def test_a_checkpoint_with_another_hash_is_a_mismatch(filled: Ledger) -> None:
    forged = chain.Checkpoint(5, "ab" * 32)
    problem = problem_of(filled, forged)
    assert (problem.kind, problem.position) == ("checkpoint mismatch", 5)


def _recompute_every_link(ledger: Ledger) -> None:
    rows = sql(
        ledger,
        f"SELECT c.position, e.id, e.originator_id, e.originator_version, e.topic, e.state "
        f"FROM {CHAIN} c JOIN {EVENTS} e ON e.id = c.notification_id ORDER BY c.position",
    )
    previous = GENESIS
    for position, nid, oid, version, topic, state in rows:
        hex_id = originator_hex(oid)
        previous = link_hash(previous, position, nid, hex_id, version, topic, bytes(state))
        tamper(ledger, f"UPDATE {CHAIN} SET hash = :h WHERE position = :p", h=previous, p=position)


@pytest.mark.parametrize(
    "column, value",
    [
        ("topic", b"\xff\xfe"),
        ("state", "text, not bytes"),
        ("originator_version", "x"),
        ("originator_id", 12345),
    ],
)
def test_a_value_of_the_wrong_type_is_named_not_a_crash(
    sqlite_target: str, column: str, value: object
) -> None:
    """SQLite keeps whatever type it is given; verify names the row instead of failing."""
    ledger = open_ledger(sqlite_target, create=True)
    ledger.register_locations(mali_locations(), source="test seed")
    try:
        fill(ledger, records=2)
        target = event_ids(ledger)[1]
        position = link_of(ledger, target)[0]
        tamper(ledger, f"UPDATE {EVENTS} SET {column} = :v WHERE id = :id", v=value, id=target)
        problem = problem_of(ledger)
        assert problem.position == position
        assert problem.kind in ("modified", "deleted")
    finally:
        ledger.close()
        ledger.recorder.datastore.engine.dispose()  # type: ignore[attr-defined]


def test_link_hash_follows_the_layout_docs_integrity_md_publishes() -> None:
    """The bytes as docs/integrity.md lists them, written out by hand: an independent
    verifier following the document gets the ledger's hashes."""
    import hashlib
    import struct

    previous = bytes(range(32))
    oid = "0123456789abcdef0123456789abcdef"
    topic = "ledger.records:FigureRecord.Recorded"
    state = '{"kind":"assessment","note":"Ménaka"}'.encode()
    documented = (
        b"dledger-link/1\x00"  # 15 bytes
        + previous
        + struct.pack(">q", 7)
        + struct.pack(">q", 12)
        + struct.pack(">I", 32)
        + oid.encode("ascii")
        + struct.pack(">q", 3)
        + struct.pack(">I", len(topic))
        + topic.encode()
        + struct.pack(">Q", len(state))
        + state
    )
    expected = hashlib.sha256(documented).digest()
    assert link_hash(previous, 7, 12, oid, 3, topic, state) == expected
