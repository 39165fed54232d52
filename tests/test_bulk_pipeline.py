"""The bulk writer's fast paths against the straightforward ones: SQLite's set-based insert
against a plain ``executemany``, the pipelined writer (insert thread, link hashes planned
ahead, several batches per commit) against one batch at a time in this thread."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from bench.generate import SyntheticClock, catalogue, ledger_items
from ledger import chain, packing
from ledger import persistence as persistence_module
from ledger.application import Ledger
from ledger.bulk import Amendment, BulkWriter, Item
from ledger.storage import EVENTS_TABLE, close_ledger, database_url, open_ledger

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
    monkeypatch.setattr(packing, "PART_BYTES", 700)
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
    assert chain.verify(ledger).intact
    close_ledger(ledger)


def test_pipelined_writes_store_what_one_batch_at_a_time_stores(
    db_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same items, same clock: the pipelined writer (several write calls, many batches,
    several per commit, link hashes planned ahead on SQLite) and the atomic one (each
    batch in this thread, hashes computed at insert) store the same events and links."""
    recomputed = []
    real_link_hashes = persistence_module.link_hashes

    def counting(*args: Any) -> Any:
        recomputed.append(len(args[3]))
        return real_link_hashes(*args)

    monkeypatch.setattr(persistence_module, "link_hashes", counting)
    items = list(ledger_items(ITEMS, seed=11))
    fast = _opened(db_target)
    writer = BulkWriter(
        fast, "generator", batch_size=64, commit_every=200, clock=SyntheticClock(ITEMS)
    )
    for start in range(0, ITEMS, 300):
        writer.write(items[start : start + 300])
    assert writer.written == ITEMS
    if db_target.startswith("sqlite"):
        assert recomputed == []  # every batch used the hashes planned on the encoding side
    reference = _opened(str(tmp_path / "reference.db"))
    plain = BulkWriter(reference, "generator", batch_size=64, clock=SyntheticClock(ITEMS))
    for start in range(0, ITEMS, 64):
        plain.write(items[start : start + 64], atomic=True)
    # the same figure events in the same order (the catalogue's events carry wall-clock
    # timestamps, so those differ); each chain recomputes whole from what was stored
    ours, theirs = _figure_events(fast), _figure_events(reference)
    assert len(ours) == len(theirs) == ITEMS
    shift = theirs[0][0] - ours[0][0]
    assert [(r[0] + shift, *r[1:]) for r in ours] == theirs
    for ledger in (fast, reference):
        result = chain.verify(ledger)
        assert result.intact and result.events_checked == len(_events(ledger))
    close_ledger(fast)
    close_ledger(reference)


def test_planned_links_are_recomputed_when_another_writer_came_in_between(
    sqlite_target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = _opened(sqlite_target)
    writer = BulkWriter(ledger, "generator", batch_size=50, clock=SyntheticClock(ITEMS))
    real_head = BulkWriter._head

    def head_then_another_write(self: BulkWriter) -> Any:
        head = real_head(self)  # the links are planned against this head...
        other = open_ledger(sqlite_target, actor="someone else")
        other.record(
            kind="assessment", location="AAA01", date="2019-05", individuals=5,
            households=None, source={"publisher": "other"},
        )  # fmt: skip
        close_ledger(other)  # ...which is no longer the head when the insert comes
        return head

    recomputed = []
    real_link_hashes = persistence_module.link_hashes

    def counting(*args: Any) -> Any:
        recomputed.append(len(args[3]))
        return real_link_hashes(*args)

    monkeypatch.setattr(BulkWriter, "_head", head_then_another_write)
    monkeypatch.setattr(persistence_module, "link_hashes", counting)
    writer.write(list(ledger_items(300, seed=2)))
    # the other writer's one event, then every batch: the first was found stale at its
    # insert, the rest were no longer planned (or planned against the same stale head)
    assert recomputed == [1] + [50] * 6
    result = chain.verify(ledger)
    assert result.intact and result.events_checked == len(_events(ledger))
    close_ledger(ledger)


def test_a_failing_batch_stops_the_pipeline_and_earlier_commits_stay(db_target: str) -> None:
    ledger = _opened(db_target)
    before = len(_events(ledger))
    items: list[Item] = list(ledger_items(400, seed=4))
    first = next(i for i in items if not isinstance(i, Amendment))
    items.append(Amendment(first.record_id, 1, "a version that exists"))  # duplicate key
    items.extend(ledger_items(200, seed=5))
    writer = BulkWriter(
        ledger, "generator", batch_size=100, commit_every=100, clock=SyntheticClock(700)
    )
    with pytest.raises((IntegrityError, SQLIntegrityError)):
        writer.write(items)
    stored = len(_events(ledger)) - before
    assert stored == 400  # the four batches before the failing one, each committed
    assert chain.verify(ledger).intact
    close_ledger(ledger)
