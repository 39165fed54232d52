"""The write paths against the straightforward ones: SQLite's set-based insert against a
plain ``executemany``, the benchmark's pipelined writer (an insert thread, several batches
per commit) against the product's bulk writer, one batch at a time in this thread."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from bench.generate import SyntheticClock, catalogue, ledger_items
from bench.pipelined import PipelinedWriter
from ledger.application import Ledger
from ledger.backends import EVENTS_TABLE
from ledger.backends import sqlite as sqlite_backend
from ledger.bulk import Amendment, BulkWriter, Item
from ledger.storage import close_ledger, open_ledger
from ledger.targets import database_url
from tests.chain_tampering import verify

ITEMS = 900


def _opened(target: str) -> Ledger:
    ledger = open_ledger(target, actor="tester", create=True)
    ledger.register_locations(catalogue().locations, source="test catalogue")
    return ledger


def _events(ledger: Ledger) -> list[tuple[Any, ...]]:
    recorder: Any = ledger.recorder
    with recorder.datastore.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
            "ORDER BY id"
        ).all()
    return [
        (
            r[0],
            UUID(bytes=r[1]) if isinstance(r[1], bytes) else UUID(str(r[1])),
            *r[2:4],
            bytes(r[4]),
        )
        for r in rows
    ]


def _figure_events(ledger: Ledger) -> list[tuple[Any, ...]]:
    return [e for e in _events(ledger) if e[3].startswith("ledger.records:FigureRecord.")]


def test_the_set_based_insert_stores_what_executemany_stores(
    sqlite_target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # several packed parts per batch, so the offsets of a part after the first are used
    monkeypatch.setattr(sqlite_backend, "PART_BYTES", 700)
    ledger = open_ledger(sqlite_target, actor="tester", create=True)
    events = [
        StoredEvent(uuid4(), 1, "a.topic:Ça « va »", b""),
        StoredEvent(uuid4(), 7, "b", bytes(range(256)) * 3),
        StoredEvent(uuid4(), 2, "a.topic:Ça « va »", '{"é":"\\u0000 ✓"}'.encode()),
        *(StoredEvent(uuid4(), n, f"t{n % 3}", b"x" * (n * 37)) for n in range(1, 40)),
    ]
    ids = ledger.recorder.insert_events(events)
    assert list(ids or []) == list(range(1, len(events) + 1))
    path = database_url(sqlite_target).removeprefix("sqlite:///")
    reference = sqlite3.connect(":memory:")
    reference.execute(
        "CREATE TABLE e (id INTEGER PRIMARY KEY, originator_id BINARY(16), "
        "originator_version INTEGER, topic TEXT, state BLOB)"
    )
    reference.executemany(
        "INSERT INTO e (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
        [(e.originator_id.bytes, e.originator_version, e.topic, e.state) for e in events],
    )
    columns = (
        "id, originator_id, typeof(originator_id), originator_version, "
        "typeof(originator_version), topic, typeof(topic), state, typeof(state)"
    )
    stored = sqlite3.connect(path).execute(f"SELECT {columns} FROM {EVENTS_TABLE} ORDER BY id")
    expected = reference.execute(f"SELECT {columns} FROM e ORDER BY id")
    assert stored.fetchall() == expected.fetchall()
    assert verify(ledger).intact
    close_ledger(ledger)


def test_pipelined_writes_store_what_one_batch_at_a_time_stores(
    db_target: str, tmp_path: Path
) -> None:
    """Same items, same clock: the pipelined writer (several write calls, many batches,
    several per commit) and the product's (each batch in this thread) store the same
    events and links."""
    items = list(ledger_items(ITEMS, seed=11))
    fast = _opened(db_target)
    writer = PipelinedWriter(
        fast, "generator", batch_size=64, commit_every=200, clock=SyntheticClock(ITEMS)
    )
    for start in range(0, ITEMS, 300):
        writer.write(items[start : start + 300])
    assert writer.written == ITEMS
    reference = _opened(str(tmp_path / "reference.db"))
    plain = BulkWriter(reference, "generator", batch_size=64, clock=SyntheticClock(ITEMS))
    for start in range(0, ITEMS, 64):
        plain.write(items[start : start + 64])
    # the same figure events in the same order (the catalogue's events carry wall-clock
    # timestamps, so those differ); each chain recomputes whole from what was stored
    ours, theirs = _figure_events(fast), _figure_events(reference)
    assert len(ours) == len(theirs) == ITEMS
    shift = theirs[0][0] - ours[0][0]
    assert [(r[0] + shift, *r[1:]) for r in ours] == theirs
    for ledger in (fast, reference):
        result = verify(ledger)
        assert result.intact and result.events_checked == len(_events(ledger))
    close_ledger(fast)
    close_ledger(reference)


def test_a_failing_batch_stops_the_pipeline_and_earlier_commits_stay(db_target: str) -> None:
    ledger = _opened(db_target)
    before = len(_events(ledger))
    items: list[Item] = list(ledger_items(400, seed=4))
    first = next(i for i in items if not isinstance(i, Amendment))
    items.append(Amendment(first.record_id, 1, "a version that exists"))  # duplicate key
    items.extend(ledger_items(200, seed=5))
    writer = PipelinedWriter(
        ledger, "generator", batch_size=100, commit_every=100, clock=SyntheticClock(700)
    )
    with pytest.raises((IntegrityError, SQLIntegrityError)):
        writer.write(items)
    stored = len(_events(ledger)) - before
    assert stored == 400  # the four batches before the failing one, each committed
    assert verify(ledger).intact
    close_ledger(ledger)
