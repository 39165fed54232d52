"""Every optimised path against the straightforward one, on generated data, on SQLite and
PostgreSQL: bulk-written events against the aggregates' own, the JSON catch-up against
the mapper catch-up (same rows, same checksum), totals against the figure rule written
independently in SQL (DuckDB)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import event as sa_event

from bench.generate import RECORDING_END, RECORDING_START, SyntheticClock, catalogue, ledger_items
from ledger.application import Ledger
from ledger.bulk import Amendment, BulkWriter, NewRecord
from ledger.records import FigureRecord
from ledger.storage import close_ledger, open_ledger
from projections import catchup
from projections.catchup import FigureProjection
from projections.facts import SqlFacts
from projections.figures import FigureRule
from projections.reader import Moment, Reader
from projections.schema import to_micros, versions
from projections.totals import breakdown

EVENTS = 800


@pytest.fixture
def generated(db_target: str) -> Iterator[Ledger]:
    """A ledger of generated figures (bulk path), a few written the ordinary way, and a
    named snapshot, so the log mixes every kind of event."""
    ledger = open_ledger(db_target, actor="tester", create=True)
    ledger.register_locations(catalogue().locations, source="test catalogue")
    writer = BulkWriter(ledger, "generator", batch_size=700, clock=SyntheticClock(EVENTS))
    items = list(ledger_items(EVENTS, seed=3))
    writer.write(items[: EVENTS // 2])
    written = ledger.record(
        kind="assessment",
        location="AAA01",
        date="2019-05",
        individuals=1234,
        households=200,
        source={"publisher": 'Café « Ménaka » "quoted"\ttab'},
    )
    ledger.correct(written.record_id, individuals=1300, reason="recount")
    writer.write(items[EVENTS // 2 :], atomic=True)
    ledger.keep_snapshot(
        name="mid",
        as_of="2019-12-31",
        known_at=datetime.now(UTC).isoformat(),
        position=1,
        location=None,
        by=None,
        result={"rows": []},
    )
    try:
        yield ledger
    finally:
        close_ledger(ledger)


def test_bulk_events_are_the_events_the_aggregate_triggers(sqlite_target: str) -> None:
    ledger = open_ledger(sqlite_target, actor="tester", create=True)
    at = datetime(2021, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    writer = BulkWriter(ledger, "tester", clock=lambda: at)
    rid = uuid4()
    source = {"publisher": "DTM « Ménaka »", "report": 'round "7"\n\x01\\'}
    record = FigureRecord(
        kind="registration",
        pcode="ML10",
        date="2018-02-28",
        precision="day",
        individuals=800,
        households=None,
        source=source,
        origin="ML05",
        cause="conflict",
        note="ça",
        actor="tester",
        import_key="k1",
        id=rid,
    )
    record._corrected(changes={"individuals": 900}, reason="recount", actor="tester", citation=None)
    record._retracted(reason="duplicate", actor="tester", citation="file.csv")
    expected = record.collect_events()
    items: list[NewRecord | Amendment] = [
        NewRecord(rid, "registration", "ML10", "2018-02-28", "day", 800, None, source,
                  origin="ML05", cause="conflict", note="ça", import_key="k1"),
        Amendment(rid, 2, "recount", {"individuals": 900}),
        Amendment(rid, 3, "duplicate", citation="file.csv"),
    ]  # fmt: skip
    for event, item in zip(expected, items, strict=True):
        object.__setattr__(event, "timestamp", at)
        assert writer.stored(item) == ledger.mapper.to_stored_event(event)
    writer.write(items)
    replayed = ledger.get_record(rid)
    assert (replayed.version, replayed.individuals, replayed.retracted) == (3, 900, "duplicate")
    assert replayed.source == source
    close_ledger(ledger)


def test_bulk_encoding_matches_the_mapper_on_generated_data(generated: Ledger) -> None:
    writer = BulkWriter(generated, "generator", clock=SyntheticClock(EVENTS))
    for item in itertools.islice(ledger_items(EVENTS, seed=5), 1_000):
        stamp = writer.clock()
        writer.clock = lambda stamp=stamp: stamp  # type: ignore[misc]
        assert writer.stored(item) == generated.mapper.to_stored_event(writer.event(item))


def test_bulk_written_records_read_back_through_the_repository(generated: Ledger) -> None:
    finals: dict[object, tuple[int, int, bool]] = {}
    for item in itertools.islice(ledger_items(EVENTS, seed=3), EVENTS):
        if isinstance(item, NewRecord):
            finals[item.record_id] = (1, item.individuals, False)
        else:
            version, individuals, _ = finals[item.record_id]
            changes = item.changes or {}
            gone = item.changes is None
            finals[item.record_id] = (item.version, changes.get("individuals", individuals), gone)
    for rid, (version, individuals, gone) in itertools.islice(finals.items(), 0, None, 37):
        record = generated.get_record(rid)  # type: ignore[arg-type]
        assert (record.version, record.individuals, record.retracted is not None) == (
            version,
            individuals,
            gone,
        )


@pytest.mark.parametrize("decode", ["sql", "json"])
def test_fast_catch_up_equals_mapper_catch_up(
    generated: Ledger, monkeypatch: pytest.MonkeyPatch, decode: str
) -> None:
    reference = FigureProjection(generated, decode="mapper")
    assert reference.decode == "mapper"
    reference.rebuild()
    expected = reference.checksum()
    fast = FigureProjection(generated, decode=decode)
    assert fast.decode == decode
    done = fast.rebuild()
    assert done.applied == fast.ledger.recorder.max_notification_id()
    assert fast.checksum() == expected
    assert fast.pages_row_by_row == 0  # the set-based statement took every new record
    # incremental, in small pages that split records from their amendments
    monkeypatch.setattr(catchup, "PAGE_SIZE", 97)
    fast.rebuild()
    assert fast.checksum() == expected
    # a large backlog: loaded without secondary indexes (SQLite), indexed at the end
    monkeypatch.setattr(catchup, "BULK_BACKLOG", 100)
    fast.rebuild()
    assert fast.checksum() == expected
    assert _index_names(fast) == {index.name for index in versions.indexes}
    if fast.sqlite and decode == "sql":  # a second thread parsed the pages ahead
        assert fast.pages_prefetched > 0
    assert fast.pages_row_by_row == 0


def test_pages_the_set_based_insert_cannot_take_go_row_by_row(
    generated: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = FigureProjection(generated, decode="mapper")
    reference.rebuild()
    projection = FigureProjection(generated)
    monkeypatch.setattr(catchup, "PAGE_SIZE", 150)

    # dlp_locations left empty: no new record finds its location, so every page with new
    # records falls back, and the rows come out the same
    def sync_nothing(self: FigureProjection, conn: Any) -> None:
        self._locations_synced = True

    monkeypatch.setattr(FigureProjection, "_sync_locations", sync_nothing)
    projection.rebuild()
    assert projection.pages_row_by_row == -(-EVENTS // 150)
    assert projection.checksum() == reference.checksum()


def test_an_interrupted_bulk_load_gets_its_indexes_back(
    generated: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    projection = FigureProjection(generated)
    monkeypatch.setattr(catchup, "BULK_BACKLOG", 100)
    monkeypatch.setattr(catchup, "PAGE_SIZE", 300)
    calls = 0
    original = FigureProjection._apply

    def failing(self: FigureProjection, conn: Any, page: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("interrupted")
        original(self, conn, page)

    create_indexes = FigureProjection._create_indexes
    monkeypatch.setattr(FigureProjection, "_apply", failing)
    # the process dies: not even its ``finally`` runs
    monkeypatch.setattr(FigureProjection, "_create_indexes", lambda self: None)
    with pytest.raises(RuntimeError):
        projection.rebuild()
    assert 0 < projection.position() < (generated.recorder.max_notification_id() or 0)
    assert _index_names(projection) == set()  # both backends load a backlog unindexed
    monkeypatch.setattr(FigureProjection, "_apply", original)
    monkeypatch.setattr(FigureProjection, "_create_indexes", create_indexes)
    Reader(generated)  # the next read catches up and restores what is missing
    assert _index_names(projection) == {index.name for index in versions.indexes}
    reference = FigureProjection(generated, decode="mapper")
    expected = projection.checksum()
    reference.rebuild()
    assert reference.checksum() == expected


@pytest.mark.parametrize("db_target", ["sqlite"], indirect=True)
def test_pages_the_prefetch_could_not_take_are_parsed_in_line(
    generated: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    reference = FigureProjection(generated, decode="mapper")
    reference.rebuild()
    expected = reference.checksum()
    with reference.engine.connect() as conn:
        # the location whose first figure comes last in the log
        late, first = conn.execute(
            text("SELECT pcode, min(position) AS m FROM dlp_versions GROUP BY pcode "
                 "ORDER BY m DESC LIMIT 1")
        ).one()  # fmt: skip
    assert first > 300
    monkeypatch.setattr(catchup, "BULK_BACKLOG", 100)
    monkeypatch.setattr(catchup, "PAGE_SIZE", 97)
    sync = FigureProjection._sync_locations
    calls = 0

    def sync_all_but_late(self: FigureProjection, conn: Any) -> None:
        # the first sync (before the prefetch starts) leaves one location out, so the
        # prefetch parses the page that needs it short
        nonlocal calls
        calls += 1
        sync(self, conn)
        if calls == 1:
            conn.execute(text("DELETE FROM dlp_locations WHERE pcode = :p"), {"p": late})

    monkeypatch.setattr(FigureProjection, "_sync_locations", sync_all_but_late)
    projection = FigureProjection(generated)
    projection.rebuild()
    assert projection.checksum() == expected
    assert projection.pages_prefetched >= first // 97 - 1  # every page before that one
    assert projection.pages_row_by_row == 1  # that page; the rest synced again, in line
    assert not [t for t in threading.enumerate() if t.name == "dledger-parse"]
    with projection.engine.connect() as conn:  # the pooled connection is detached
        names = {row[1] for row in conn.exec_driver_sql("PRAGMA database_list")}
    assert names <= {"main", "temp"}


@pytest.mark.parametrize("db_target", ["sqlite"], indirect=True)
def test_a_prefetch_out_of_step_with_the_applier_stops(
    generated: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catchup, "PAGE_SIZE", 97)
    projection = FigureProjection(generated)
    prefetch = projection._prefetch(0)
    assert prefetch is not None
    first = prefetch.take(0)
    assert first is not None and first.after == 0 and first.rows > 0
    # another process applied the next page: the parsed one no longer follows on
    assert prefetch.take(first.last + 1) is None
    assert prefetch.take(first.last) is None  # and it stays stopped
    assert not prefetch.directory.exists()
    assert not [t for t in threading.enumerate() if t.name == "dledger-parse"]


def _index_names(projection: FigureProjection) -> set[str]:
    from sqlalchemy import inspect

    with projection.engine.connect() as conn:
        return {str(ix["name"]) for ix in inspect(conn).get_indexes("dlp_versions")}


def test_totals_equal_the_figure_rule_in_duckdb(generated: Ledger) -> None:
    pytest.importorskip("duckdb")
    from bench.duck import DuckTotals

    reader = Reader(generated)
    duck = DuckTotals(reader.projection.engine, reader.index)
    countries = [c.pcode for c in reader.index.countries()][:3]
    span = RECORDING_END - RECORDING_START
    moments = []
    for i in range(6):
        as_of = date(2010, 6, 30) + timedelta(days=650 * i)
        known_at = RECORDING_START + span * ((i + 1) / 6) if i % 3 else datetime.now(UTC)
        moments.append(Moment(as_of, known_at))
    # historical questions about much later dates: the queries bound their dates by what
    # can have been known then (the lead horizon); DuckDB's rule has no such bound
    for fraction, as_of in ((0.1, date(2025, 6, 30)), (0.4, date(2024, 1, 1))):
        moments.append(Moment(as_of, RECORDING_START + span * fraction))
    with reader.projection.engine.connect() as conn:
        horizon = SqlFacts(conn, to_micros(moments[-1].known_at)).horizon
    assert horizon is not None and horizon < moments[-1].as_of
    checked = 0
    for moment in moments:
        as_of, known_at = moment.as_of, moment.known_at
        for country in countries:
            (totals,) = reader.totals(moment, country, "admin1")
            ours = {country: totals.total.individuals}
            ours.update({r.pcode: r.individuals for r in totals.rows or () if r.pcode})
            assert ours == duck.totals(to_micros(known_at), as_of, country), (moment, country)
            checked += sum(1 for v in ours.values() if v)
    assert checked > 12  # the comparison is not all zeros


class _OneLocationAtATime(FigureRule):
    """The rule as written: every question asked when the location is computed."""

    def prefetch(self, pcodes: list[str]) -> None:
        pass

    def _children_with_data(self, codes: list[str], level: int) -> list[str]:
        present = self.facts.present(codes, level, self.as_of)
        return [c for c in codes if c in present]


def test_questions_asked_ahead_give_the_figures_asked_one_at_a_time(generated: Ledger) -> None:
    reader = Reader(generated)
    engine = reader.projection.engine
    statements = []

    def count(*_: Any) -> None:
        statements.append(1)

    span = RECORDING_END - RECORDING_START
    # (moment, detail): totals ask for the flows' sums, an explanation for the flows
    questions = [
        (Moment(date(2026, 1, 1), datetime.now(UTC)), False),
        (Moment(date(2020, 3, 31), RECORDING_START + span * 0.6), True),
    ]
    asked: dict[str, int] = {}
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        for moment, detail in questions:
            for name, rule_class in (("ahead", FigureRule), ("one", _OneLocationAtATime)):
                statements.clear()
                with engine.connect() as conn:
                    rule = rule_class(
                        SqlFacts(conn, to_micros(moment.known_at)),
                        reader.index,
                        moment.as_of,
                        detail=detail,
                    )
                    figures = {}
                    for country in reader.index.countries():
                        figures[country.pcode] = rule.figure(country.pcode)
                        for line in breakdown(rule, country, 1):
                            if line.pcode:
                                figures[line.pcode] = rule.figure(line.pcode)
                asked[name] = asked.get(name, 0) + len(statements)
                # every answer asked ahead was used: none asked under a key never looked up
                assert not (rule._baselines or rule._flow_sums or rule._flow_facts)
                if name == "ahead":
                    ahead = figures
            assert figures == ahead, moment
            with_flows = [f for f in figures.values() if f.flows]
            assert len(with_flows) > 20 if detail else not with_flows
            assert sum(1 for f in figures.values() if f.records) > 50  # not all empty
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    if engine.dialect.name == "postgresql":  # the batches go out pipelined, not one by one
        assert asked["ahead"] * 5 < asked["one"], asked


def test_children_asked_about_before_their_parent_still_count(generated: Ledger) -> None:
    """Asking ahead about locations whose parent is then computed first (an order the
    commands do not use) gives the parent's figure the rule gives asking one at a time."""
    reader = Reader(generated)
    moment = Moment(date(2026, 1, 1), datetime.now(UTC))
    from_children = 0
    with reader.projection.engine.connect() as conn:
        facts = SqlFacts(conn, to_micros(moment.known_at))
        one = _OneLocationAtATime(facts, reader.index, moment.as_of)
        for region in reader.index.children["AAA"]:
            ahead = FigureRule(facts, reader.index, moment.as_of)
            ahead.prefetch(reader.index.children.get(region, [])[::2])  # every other one
            figure = ahead.figure(region)
            assert figure == one.figure(region), region
            from_children += bool(figure.children)
    assert from_children > 3  # regions whose figure rests on their children


def test_explain_agrees_with_totals_on_generated_data(generated: Ledger) -> None:
    reader = Reader(generated)
    moment = Moment(date(2018, 12, 31), datetime.now(UTC))
    region = reader.index.children["AAA"][0]
    (totals,) = reader.totals(moment, "AAA", "admin1")
    row = next(r for r in totals.rows or () if r.pcode == region)
    explained = reader.explain(moment, region).as_dict()
    assert explained["individuals"] == row.individuals

    def flows(node: dict[str, Any]) -> int:
        own = sum(
            -f["individuals"] if f["kind"] == "return" else f["individuals"] for f in node["flows"]
        )
        base = node["baseline"]["individuals"] if node["baseline"] else 0
        kids = sum(flows(c) for c in node["children"])
        return int(base + own + kids)

    assert flows(explained) == row.individuals


def test_read_models_in_another_layout_are_dropped_and_rebuilt(generated: Ledger) -> None:
    from sqlalchemy import text

    projection = FigureProjection(generated)
    projection.catch_up()
    expected = projection.checksum()
    with projection.engine.begin() as conn:
        # a database whose read models an older version of the ledger wrote
        conn.execute(text("DELETE FROM dlp_position WHERE view = 'schema'"))
        conn.execute(text("DROP TABLE dlp_details"))
    reopened = FigureProjection(generated)
    assert reopened.position() == 0  # dropped, not mixed with the old rows
    assert reopened.catch_up().applied == generated.recorder.max_notification_id()
    assert reopened.checksum() == expected
