"""The event store on SQLite and PostgreSQL: round trips, immutability, concurrent writers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from ledger.application import Ledger
from ledger.dates import utc_now
from ledger.errors import ConcurrentChange
from ledger.storage import EVENTS_TABLE, close_ledger, database_url, open_ledger
from tests.reading import versions_of

DEC_2017: dict[str, Any] = {
    "kind": "assessment",
    "location": "Mali",
    "date": "2017-12",
    "individuals": 38172,
    "households": 7716,
    "source": {"publisher": "IOM DTM", "url": "https://iom.int/news/x", "published_on": "2018-02"},
    "cause": "conflict",
    "note": "exact day not stated",
}


def reopened(ledger: Ledger, db_target: str) -> Ledger:
    """Another application on the same store, so reads come from the database."""
    return open_ledger(db_target, actor="reader")


def stored_rows(db_target: str) -> list[tuple[Any, ...]]:
    engine = create_engine(database_url(db_target))
    try:
        with engine.connect() as conn:
            query = f"SELECT originator_id, originator_version, topic, state FROM {EVENTS_TABLE}"
            return [tuple(row) for row in conn.execute(text(query + " ORDER BY id"))]
    finally:
        engine.dispose()


def test_a_record_reads_back_whole_from_another_process(ledger: Ledger, db_target: str) -> None:
    before = utc_now()
    written = ledger.record(**DEC_2017)
    other = reopened(ledger, db_target)
    try:
        [version] = versions_of(other, written.record_id)
    finally:
        close_ledger(other)
    assert (version.kind, version.pcode, version.date, version.precision) == (
        "assessment", "MLI", "2017-12-31", "month",
    )  # fmt: skip
    assert (version.individuals, version.households, version.actor) == (38172, 7716, "tester")
    assert version.source == {
        "publisher": "IOM DTM", "url": "https://iom.int/news/x", "published_on": "2018-02",
    }  # fmt: skip
    assert (version.cause, version.note, version.origin) == (
        "conflict", "exact day not stated", None,
    )  # fmt: skip
    assert version.recorded_at.tzinfo is not None
    assert before <= version.recorded_at <= utc_now()


def test_amendments_add_events_and_never_change_earlier_ones(
    ledger: Ledger, db_target: str
) -> None:
    written = ledger.record(**DEC_2017)
    first = stored_rows(db_target)
    ledger.correct(written.record_id, individuals="38000", reason="typo")
    ledger.retract(written.record_id, reason="duplicate")
    after = stored_rows(db_target)
    assert after[: len(first)] == first
    assert [row[1] for row in after[len(first) :]] == [2, 3]


def test_concurrent_corrections_one_wins_the_other_gets_a_conflict_and_nothing_is_lost(
    ledger: Ledger, db_target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_id = ledger.record(**DEC_2017).record_id
    second = open_ledger(db_target, actor="bakary")
    try:
        stale = second.get_record(record_id)  # bakary loads version 1 ...
        ledger.correct(record_id, individuals="38000", reason="typo in the report")  # amina wins
        monkeypatch.setattr(second, "get_record", lambda _: stale)
        with pytest.raises(ConcurrentChange, match=f"record {record_id} was changed by another"):
            second.correct(record_id, households="7000", reason="households revised")
        monkeypatch.undo()
        versions = versions_of(second, record_id)
        assert [(v.version, v.actor, v.individuals, v.households) for v in versions] == [
            (1, "tester", 38172, 7716),
            (2, "tester", 38000, 7716),
        ]
        # bakary reloads and tries again: both corrections are kept, in order
        assert (
            second.correct(record_id, households="7000", reason="households revised").version == 3
        )
        assert [(v.individuals, v.households) for v in versions_of(ledger, record_id)][-1] == (
            38000, 7000,
        )  # fmt: skip
    finally:
        close_ledger(second)


# Any sequence of valid records and amendments round-trips unchanged ------------------------

PCODES = ["MLI", "ML05", "ML0506", "ML06", "ML07", "ML10"]
ACTORS = ["amina", "bakary", "chantal"]


@st.composite
def figure_dates(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=date(1990, 1, 1), max_value=date.today() - timedelta(days=1)))
    form = draw(st.sampled_from(["%Y-%m-%d", "%Y-%m", "%Y"]))
    return day.strftime(form)


@st.composite
def counts(draw: st.DrawFn) -> tuple[int, int | None]:
    individuals = draw(st.integers(min_value=0, max_value=10_000_000))
    households = draw(st.none() | st.integers(min_value=0, max_value=individuals))
    return individuals, households


def _state(version: Any) -> tuple[Any, ...]:
    return (
        version.version, version.action, version.actor, version.reason, version.kind,
        version.pcode, str(version.figure_date), version.individuals, version.households,
        version.retracted, {c.field: (c.old, c.new) for c in version.changes},
    )  # fmt: skip


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_sequence_of_records_and_amendments_round_trips(
    ledger: Ledger, db_target: str, data: st.DataObject
) -> None:
    expected: dict[Any, list[tuple[Any, ...]]] = {}
    current: dict[Any, dict[str, Any]] = {}
    for _ in range(data.draw(st.integers(1, 3), label="records")):
        ledger.actor = data.draw(st.sampled_from(ACTORS))
        individuals, households = data.draw(counts())
        values = {
            "kind": data.draw(st.sampled_from(["assessment", "registration", "return"])),
            "pcode": data.draw(st.sampled_from(PCODES)),
            "date": data.draw(figure_dates()),
            "individuals": individuals,
            "households": households,
        }
        written = ledger.record(
            kind=values["kind"], location=values["pcode"], date=values["date"],
            individuals=str(individuals), households=households,
            source={"publisher": "test source"},
        )  # fmt: skip
        current[written.record_id] = dict(values, retracted=False)
        expected[written.record_id] = [
            (1, "recorded", ledger.actor, None, values["kind"], values["pcode"], values["date"],
             individuals, households, False, {})
        ]  # fmt: skip
    for _ in range(data.draw(st.integers(0, 6), label="amendments")):
        open_ids = [rid for rid, state in current.items() if not state["retracted"]]
        if not open_ids:
            break
        rid = data.draw(st.sampled_from(open_ids))
        state = current[rid]
        ledger.actor = data.draw(st.sampled_from(ACTORS))
        reason = data.draw(st.text(st.characters(codec="utf-8"), min_size=1).filter(str.strip))
        stored_reason = reason.strip()  # inputs are stripped before they become events
        if data.draw(st.booleans(), label="retract"):
            ledger.retract(rid, reason=reason)
            state["retracted"] = True
            changes: dict[str, Any] = {}
            action = "retracted"
        else:
            individuals, households = data.draw(counts())
            wanted = {
                "individuals": individuals,
                "households": households,
                "pcode": data.draw(st.sampled_from(PCODES)),
                "date": data.draw(figure_dates()),
            }
            keep = data.draw(st.sets(st.sampled_from(sorted(wanted)), min_size=1))
            if "households" in keep and "individuals" not in keep:
                keep.add("individuals")  # so households never exceed individuals
            proposed = {k: v for k, v in wanted.items() if k in keep}
            shown = {k: (state[k], v) for k, v in proposed.items() if state[k] != v}
            after = {**state, **proposed}
            too_many = (
                after["households"] is not None and after["households"] > after["individuals"]
            )
            if not shown or too_many:
                continue  # refused corrections are tested in test_validation
            ledger.correct(
                rid,
                individuals=proposed.get("individuals"),
                households=proposed.get("households"),
                households_unknown="households" in proposed and proposed["households"] is None,
                date=proposed.get("date"),
                location=proposed.get("pcode"),
                reason=reason,
            )
            state.update(proposed)
            changes = {}
            for name, (old, new) in shown.items():
                if name == "date":
                    if _day(old) != _day(new):
                        changes["date"] = (_day(old), _day(new))
                    if _precision(old) != _precision(new):
                        changes["precision"] = (_precision(old), _precision(new))
                else:
                    changes[name] = (old, new)
            action = "corrected"
        last = expected[rid][-1]
        expected[rid].append(
            (last[0] + 1, action, ledger.actor, stored_reason, state["kind"], state["pcode"],
             state["date"], state["individuals"], state["households"], state["retracted"],
             changes)
        )  # fmt: skip
    reader = reopened(ledger, db_target)
    try:
        for rid, versions in expected.items():
            assert [_state(v) for v in versions_of(reader, rid)] == versions
    finally:
        close_ledger(reader)


def _day(text_date: str) -> str:
    from ledger.dates import FigureDate

    return FigureDate.parse(text_date).day.isoformat()


def _precision(text_date: str) -> str:
    from ledger.dates import FigureDate

    return FigureDate.parse(text_date).precision.value


def test_postgresql_sessions_run_without_jit(pg_database: str) -> None:
    """Every pooled PostgreSQL connection has JIT off (ledger.storage._tune_sessions),
    including one opened after the pool was emptied (SQLite has no JIT)."""
    ledger = open_ledger(pg_database, actor="tester", create=True)
    try:
        engine = ledger.recorder.datastore.engine  # type: ignore[attr-defined]
        engine.dispose()
        with engine.connect() as first, engine.connect() as second:
            settings = {conn.execute(text("SHOW jit")).scalar() for conn in (first, second)}
    finally:
        close_ledger(ledger)
    assert settings == {"off"}
