"""The read models parse the event library's stored JSON themselves (in SQL, and in the
projector); this file fails the day the library stores events differently, so its version
pin can be lifted with the suite as the judge.

What is checked, on events the library's own mapper wrote: the topics the projector
follows are the classes' topics; each state is a JSON object whose keys are the event's
fields in order, with the timestamp as ``{"_type_": "datetime_iso", "_data_": ...}``
and no ``class_version``; and the projector decodes every stored event to what the mapper
decodes it to.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.application import Ledger
from ledger.fields import FIGURE_FIELDS
from ledger.gazetteer import Gazetteer
from ledger.records import FigureRecord
from ledger.snapshots import NamedSnapshot
from projections.backends import RECORDED_TOPIC
from projections.projector import (
    FIGURE_TOPICS,
    LOCATION_TOPICS,
    SNAPSHOT_TOPIC,
    decode,
    event_time,
)
from projections.schema import to_micros
from tests.chain_tampering import sql


def _stored(ledger: Ledger) -> list[StoredEvent]:
    rows = sql(ledger, "SELECT originator_id, originator_version, topic, state FROM dledger_events")
    return [
        StoredEvent(ledger.recorder.store.originator(r[0]), r[1], r[2], bytes(r[3]))  # type: ignore[attr-defined]
        for r in rows
    ]


def _fill(ledger: Ledger) -> None:
    written = ledger.record(
        kind="registration", location="Gao", date="2018-01", individuals=1164,
        source={"publisher": "IOM", "report": "« DTM »"}, cause="conflict",
    )  # fmt: skip
    ledger.correct(written.record_id, individuals=964, households=100, reason="recount")
    ledger.retract(written.record_id, reason="duplicate")
    ledger.keep_snapshot(
        name="s", as_of="2018-01-31", known_at=datetime.now(UTC).isoformat(), position=3,
        location=None, by=None, result={"total": {"individuals": 1}},
    )  # fmt: skip


def test_the_topics_the_read_models_follow_are_the_classes_topics() -> None:
    assert get_topic(FigureRecord.Recorded) == RECORDED_TOPIC
    assert {
        get_topic(FigureRecord.Recorded): "recorded",
        get_topic(FigureRecord.Corrected): "corrected",
        get_topic(FigureRecord.Retracted): "retracted",
    } == FIGURE_TOPICS
    assert get_topic(Gazetteer.LocationsRegistered) in LOCATION_TOPICS
    assert get_topic(NamedSnapshot.Taken) == SNAPSHOT_TOPIC


def _own_fields(cls: type) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in ("originator_id", "originator_version")
    ]  # type: ignore[arg-type]


def test_each_state_is_the_event_s_fields_in_order_with_an_iso_timestamp(ledger: Ledger) -> None:
    _fill(ledger)
    classes = {
        get_topic(c): c
        for c in (
            FigureRecord.Recorded, FigureRecord.Corrected, FigureRecord.Retracted,
            Gazetteer.LocationsRegistered, Gazetteer.Created, NamedSnapshot.Taken,
        )
    }  # fmt: skip
    seen = set()
    for stored in _stored(ledger):
        state = json.loads(stored.state)
        assert list(state) == _own_fields(classes[stored.topic]), stored.topic
        assert set(state["timestamp"]) == {"_type_", "_data_"}
        assert state["timestamp"]["_type_"] == "datetime_iso"
        assert datetime.fromisoformat(state["timestamp"]["_data_"]).utcoffset() is not None
        assert "class_version" not in state
        seen.add(stored.topic)
    assert seen == set(classes)
    recorded = next(s for s in _stored(ledger) if s.topic == RECORDED_TOPIC)
    assert list(json.loads(recorded.state))[2:] == [f.name for f in FIGURE_FIELDS]


def test_the_projector_decodes_what_the_mapper_decodes(ledger: Ledger) -> None:
    _fill(ledger)
    for stored in _stored(ledger):
        event = ledger.mapper.to_domain_event(stored)
        state = decode(stored.state)
        at = event_time(state)
        assert at == to_micros(event.timestamp)
        expected = {k: v for k, v in vars(event).items() if k not in
                    ("originator_id", "originator_version", "timestamp")}  # fmt: skip
        assert state == expected, stored.topic
