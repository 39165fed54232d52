"""Invariants of the chain: any single-byte change is detected; concurrent writers make one
linear chain."""

from __future__ import annotations

import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.storage import open_ledger
from tests.chain_tampering import (
    EVENTS,
    event_ids,
    fill,
    link_of,
    set_state,
    state_of,
    verify,
)
from tests.tampering import tamper


def test_any_single_byte_change_to_any_stored_event_is_detected(ledger: Ledger) -> None:
    fill(ledger, records=3)
    events = [(event, state_of(ledger, event)) for event in event_ids(ledger)]

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def single_byte_change(data: st.DataObject) -> None:
        event, state = data.draw(st.sampled_from(events), label="event")
        index = data.draw(st.integers(0, len(state) - 1), label="byte")
        flip = data.draw(st.integers(1, 255), label="xor")
        changed = bytearray(state)
        changed[index] ^= flip
        set_state(ledger, event, bytes(changed))
        try:
            problem = verify(ledger).problem
            assert problem is not None
            assert (problem.kind, problem.position) == ("modified", link_of(ledger, event)[0])
        finally:
            set_state(ledger, event, state)

    single_byte_change()
    assert verify(ledger).intact  # every change was undone: the check itself is sound


def test_a_changed_version_or_record_id_is_detected(ledger: Ledger) -> None:
    fill(ledger, records=2)
    last = event_ids(ledger)[-1]
    tamper(ledger, f"UPDATE {EVENTS} SET originator_version = 99 WHERE id = :id", id=last)
    problem = verify(ledger).problem
    assert problem is not None and problem.kind == "modified"


def test_concurrent_writers_extend_one_linear_chain(ledger: Ledger, db_target: str) -> None:
    writers = [open_ledger(db_target, actor=f"writer{i}") for i in range(4)]
    failures: list[BaseException] = []

    def write(writer: Ledger) -> None:
        try:
            for i in range(15):
                writer.record(
                    kind="registration",
                    location="Mopti",
                    date="2018-01",
                    individuals=str(i),
                    source={"publisher": "IOM DTM"},
                )
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        writer.close()
        writer.recorder.datastore.engine.dispose()  # type: ignore[attr-defined]
    assert failures == []
    result = verify(ledger)
    assert result.intact, result.problem
    assert result.events_checked == len(event_ids(ledger)) >= 60
