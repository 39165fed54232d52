"""Every optimised path against the straightforward one, on generated data, on SQLite and
PostgreSQL: bulk-written events against the aggregates' own, the set-based catch-up
against the projector alone (same rows, same checksum), the SQL facts against the facts
in memory, the batched figure rule against the rule written one location at a time, and
totals against the figure rule written independently in SQL (DuckDB)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from bench.generate import RECORDING_END, RECORDING_START, SyntheticClock, catalogue, ledger_items
from ledger.application import Ledger
from ledger.bulk import RECORD_TOPIC, Amendment, BulkWriter, Item, NewRecord
from ledger.records import FigureRecord
from ledger.storage import close_ledger, open_ledger
from projections import catchup
from projections.backends import models_for
from projections.catchup import Projection
from projections.facts import FlowQuery, SqlFacts
from projections.figures import FigureRule
from projections.schema import VERSION_INDEXES, from_micros, to_micros
from projections.service import ReadService
from projections.totals import Moment
from tests.chain_tampering import sql, target_of
from tests.facts_in_memory import InMemoryFacts, Row, plain_figure

EVENTS = 800


@pytest.fixture
def generated(db_target: str) -> Iterator[Ledger]:
    """A ledger of generated figures (bulk path), a few written the ordinary way, and a
    named snapshot, so the log mixes every kind of event."""
    ledger = open_ledger(db_target, actor="tester", create=True)
    ledger.register_locations(catalogue().locations, source="test catalogue")
    writer = BulkWriter(ledger, "generator", batch_size=700, clock=SyntheticClock(EVENTS))
    items = list(ledger_items(EVENTS, seed=3, breakdowns=True))
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
    writer.write(items[EVENTS // 2 :])
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


def event_of(item: Item, at: datetime, actor: str) -> Any:
    """The event ``FigureRecord`` triggers for the item, built as the aggregate builds it."""
    if isinstance(item, NewRecord):
        record = FigureRecord(
            **{k: v for k, v in vars(item).items() if k != "record_id"},
            actor=actor,
            id=item.record_id,
        )
        [event] = record.collect_events()
    elif item.changes is None:
        event = FigureRecord.Retracted(  # type: ignore[call-arg]
            originator_id=item.record_id, originator_version=item.version, timestamp=at,
            reason=item.reason, actor=actor, citation=item.citation,
        )  # fmt: skip
    else:
        event = FigureRecord.Corrected(  # type: ignore[call-arg]
            originator_id=item.record_id, originator_version=item.version, timestamp=at,
            changes=item.changes, reason=item.reason, actor=actor, citation=item.citation,
        )  # fmt: skip
    object.__setattr__(event, "timestamp", at)
    return event


def as_row(stored: Any) -> tuple[bytes, int, str, bytes]:
    return (stored.originator_id.bytes, stored.originator_version, stored.topic, stored.state)


def test_bulk_events_are_the_events_the_aggregate_triggers(sqlite_target: str) -> None:
    ledger = open_ledger(sqlite_target, actor="tester", create=True)
    at = datetime(2021, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    writer = BulkWriter(ledger, "tester", clock=lambda: at)
    rid = uuid4()
    source = {"publisher": "DTM « Ménaka »", "report": 'round "7"\n\x01\\'}
    record = FigureRecord(
        kind="registration", pcode="ML10", date="2018-02-28", precision="day",
        individuals=800, households=None, source=source, origin="ML05", cause="conflict",
        note="ça", actor="tester", import_key="k1", id=rid,
    )  # fmt: skip
    record._corrected(changes={"individuals": 900}, reason="recount", actor="tester", citation=None)
    record._retracted(reason="duplicate", actor="tester", citation="file.csv")
    expected = record.collect_events()
    items: list[Item] = [
        NewRecord(rid, "registration", "ML10", "2018-02-28", "day", 800, None, source,
                  origin="ML05", cause="conflict", note="ça", import_key="k1"),
        Amendment(rid, 2, "recount", {"individuals": 900}),
        Amendment(rid, 3, "duplicate", citation="file.csv"),
    ]  # fmt: skip
    assert expected[0].originator_topic == RECORD_TOPIC
    for event, item in zip(expected, items, strict=True):
        object.__setattr__(event, "timestamp", at)
        assert writer.row(item) == as_row(ledger.mapper.to_stored_event(event))
    writer.write(items)
    replayed = ledger.get_record(rid)
    assert (replayed.version, replayed.individuals, replayed.retracted) == (3, 900, "duplicate")
    assert replayed.source == source
    close_ledger(ledger)


def test_bulk_encoding_matches_the_mapper_on_generated_data(generated: Ledger) -> None:
    clock = SyntheticClock(EVENTS)
    for item in itertools.islice(ledger_items(EVENTS, seed=5), 1_000):
        at = clock()
        writer = BulkWriter(generated, "generator", clock=lambda at=at: at)  # type: ignore[misc]
        expected = generated.mapper.to_stored_event(event_of(item, at, "generator"))
        assert writer.row(item) == as_row(expected)


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
            version, individuals, gone,
        )  # fmt: skip


class Counting:
    """The ledger's read-model backend, counting how pages were applied; with ``copy``
    False, the set-based copy takes nothing, so every page goes through the projector."""

    def __new__(cls, target: str, copy: bool = True) -> Any:
        base = type(models_for(target))

        class Models(base):  # type: ignore[valid-type, misc]
            copies = 0
            parsed = 0
            fallbacks = 0

            def copy_recorded(
                self, cur: Any, after: int, last: int, *, parsed: bool = False
            ) -> int:
                if not copy:
                    type(self).fallbacks += 1
                    return -1
                type(self).copies += 1
                type(self).parsed += parsed
                return int(super().copy_recorded(cur, after, last, parsed=parsed))

        return Models()


def projection(ledger: Ledger, models: Any) -> Projection:
    target = target_of(ledger)
    from ledger.targets import database_url

    url = database_url(target)
    proj = Projection(models, models.connect(url), url)
    proj.ensure_tables()
    return proj


def test_the_set_based_catch_up_equals_the_projector_alone(
    generated: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = target_of(generated)
    reference = projection(generated, Counting(target, copy=False))
    reference.rebuild()
    expected = reference.checksum()
    assert reference.models.fallbacks > 0
    fast = projection(generated, Counting(target))
    done = fast.rebuild()
    assert done.applied == generated.recorder.max_notification_id()
    assert fast.checksum() == expected
    # incremental, in small pages that split records from their amendments
    monkeypatch.setattr(catchup, "PAGE_SIZE", 97)
    fast.rebuild()
    assert fast.checksum() == expected
    # a large backlog: loaded without secondary indexes, indexed at the end (on SQLite a
    # second thread parses the pages ahead)
    monkeypatch.setattr(catchup, "BULK_BACKLOG", 100)
    fast.rebuild()
    assert fast.checksum() == expected
    with fast.models.snapshot(fast.conn) as cur:
        assert fast.models.present_indexes(cur) == {i.name for i in VERSION_INDEXES}
    if fast.models.name == "sqlite":
        assert fast.models.parsed > 0
    assert fast.models.copies > 0
    for p in (reference, fast):
        p.conn.close()


def test_an_interrupted_bulk_load_gets_its_indexes_back(
    generated: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = target_of(generated)
    base = type(models_for(target))

    class Dying(base):  # type: ignore[valid-type, misc]
        pages = 0

        def before_page(self, cur: Any) -> None:
            type(self).pages += 1
            if type(self).pages == 3:
                raise RuntimeError("interrupted")
            super().before_page(cur)

        def create_index(self, cur: Any, index: Any) -> None:
            pass  # the process dies: not even its ``finally`` runs

    monkeypatch.setattr(catchup, "BULK_BACKLOG", 100)
    monkeypatch.setattr(catchup, "PAGE_SIZE", 300)
    dying = projection(generated, Dying())
    with pytest.raises(RuntimeError):
        dying.rebuild()
    assert 0 < dying.position() < (generated.recorder.max_notification_id() or 0)
    with dying.models.snapshot(dying.conn) as cur:
        assert dying.models.present_indexes(cur) == set()  # a backlog loads unindexed
    dying.conn.close()
    ReadService.open(target).close()  # the next read catches up and restores them
    fresh = projection(generated, models_for(target))
    with fresh.models.snapshot(fresh.conn) as cur:
        assert fresh.models.present_indexes(cur) == {i.name for i in VERSION_INDEXES}
    expected = fresh.checksum()
    fresh.rebuild()
    assert fresh.checksum() == expected
    fresh.conn.close()


@pytest.mark.parametrize("db_target", ["sqlite"], indirect=True)
def test_pages_the_prefetch_could_not_take_are_parsed_in_line(
    generated: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = target_of(generated)
    reference = projection(generated, models_for(target))
    reference.rebuild()
    expected = reference.checksum()
    [(late,)] = sql(generated, "SELECT max(position) FROM dlp_versions WHERE version = 1")
    reference.conn.close()
    base = type(Counting(target))

    class ShortParse(base):  # type: ignore[valid-type, misc]
        def prefetch(self, url: str, start: int, page_size: int) -> Any:
            from projections.backends import prefetch as module

            real = module.Prefetch

            def short(*args: Any, fill: str, **kwargs: Any) -> Any:
                # the parsing statement leaves out one record of a late page
                return real(*args, fill=fill + f"\n  AND e.id <> {late}", **kwargs)

            monkeypatch.setattr(module, "Prefetch", short)
            return super().prefetch(url, start, page_size)

    monkeypatch.setattr(catchup, "BULK_BACKLOG", 100)
    monkeypatch.setattr(catchup, "PAGE_SIZE", 97)
    short = projection(generated, ShortParse())
    short.rebuild()
    assert short.checksum() == expected
    assert short.models.parsed >= late // 97 - 1  # every page before that one
    assert short.models.copies > short.models.parsed  # that page and the rest, in line
    assert not [t for t in threading.enumerate() if t.name == "dledger-parse"]
    names = {row[1] for row in short.conn.execute("PRAGMA database_list")}
    assert names <= {"main", "temp"}  # the scratch database is detached
    short.conn.close()


@pytest.mark.parametrize("db_target", ["sqlite"], indirect=True)
def test_a_prefetch_out_of_step_with_the_applier_stops(generated: Ledger) -> None:
    from ledger.targets import database_url

    ReadService.open(target_of(generated)).close()  # the tables, and the locations parsed against
    prefetch = models_for(target_of(generated)).prefetch(database_url(target_of(generated)), 0, 97)
    assert prefetch is not None
    first = prefetch.take(0)
    assert first is not None and first.after == 0 and first.rows > 0
    # another process applied the next page: the parsed one no longer follows on
    assert prefetch.take(first.last + 1) is None
    assert prefetch.take(first.last) is None  # and it stays stopped
    assert not prefetch.directory.exists()
    assert not [t for t in threading.enumerate() if t.name == "dledger-parse"]


def moments() -> list[Moment]:
    span = RECORDING_END - RECORDING_START
    out = []
    for i in range(6):
        as_of = date(2010, 6, 30) + timedelta(days=650 * i)
        known_at = RECORDING_START + span * ((i + 1) / 6) if i % 3 else datetime.now(UTC)
        out.append(Moment(as_of, known_at))
    # historical questions about much later dates: the queries bound their dates by what
    # can have been known then (the lead horizon); DuckDB's rule has no such bound
    for fraction, as_of in ((0.1, date(2025, 6, 30)), (0.4, date(2024, 1, 1))):
        out.append(Moment(as_of, RECORDING_START + span * fraction))
    return out


def test_totals_equal_the_figure_rule_in_duckdb(generated: Ledger) -> None:
    pytest.importorskip("duckdb")
    from bench.duck import DuckTotals

    reader = ReadService.open(target_of(generated))
    duck = DuckTotals(reader)
    countries = [c.pcode for c in reader.index.countries()][:3]
    asked = moments()
    with reader.models.snapshot(reader.conn) as cur:
        horizon = SqlFacts(reader.models, cur, to_micros(asked[-1].known_at)).horizon
    assert horizon is not None and date.fromordinal(horizon) < asked[-1].as_of
    checked = 0
    for moment in asked:
        for country in countries:
            (totals,) = reader.totals(moment, country, "admin1").countries
            ours = {country: totals.total.individuals}
            ours.update({r.pcode: r.individuals for r in totals.rows or () if r.pcode})
            expected = duck.totals(to_micros(moment.known_at), moment.as_of, country)
            assert ours == expected, (moment, country)
            checked += sum(1 for v in ours.values() if v)
    assert checked > 12  # the comparison is not all zeros
    reader.close()


def _rows_in_memory(ledger: Ledger) -> list[Row]:
    """The figure table, read back as the facts in memory hold it."""
    from ledger.breakdowns import DIMENSIONS
    from projections.facts import Fact, parts_from

    columns = (
        "record_id, version, kind, pcode, day, precision, individuals, households, created_at, "
        "recorded_at, position, country, adm1, adm2, superseded_at, retracted, breakdowns, "
        "cause, origin"
    )
    out = []
    for r in sql(ledger, f"SELECT {columns} FROM dlp_versions ORDER BY position"):
        fact = Fact(str(UUID(r[0])), r[1], r[2], r[3], date.fromordinal(r[4]), *r[5:11])
        parts = {d: parts_from(r[16], r[17], r[18], r[6], d) for d in DIMENSIONS}
        ancestors = {"country": r[11], "adm1": r[12], "adm2": r[13]}
        out.append(Row(fact, ancestors, r[14], bool(r[15]), parts=parts))
    return out


def test_the_sql_facts_answer_as_the_facts_in_memory(generated: Ledger) -> None:
    """Each batched statement against the same question asked of a list: every location
    at each level, at several moments, flows after a spread of dates."""
    reader = ReadService.open(target_of(generated))
    rows = _rows_in_memory(generated)
    index = reader.index
    by_level: dict[int, list[str]] = {}
    for loc in index.by_pcode.values():
        by_level.setdefault(loc.level, []).append(loc.pcode)
    answered = 0
    with reader.models.snapshot(reader.conn) as cur:
        for i, moment in enumerate(moments()):
            ours = SqlFacts(reader.models, cur, to_micros(moment.known_at))
            theirs = InMemoryFacts(rows, to_micros(moment.known_at))
            parted = i % 2 == 0  # the breakdowns at every other moment
            until = moment.as_of
            for level, codes in by_level.items():
                assert ours.present(codes, level, until) == theirs.present(codes, level, until)
                mine, expected = ours.baselines(codes, until), theirs.baselines(codes, until)
                assert mine == expected
                dimension = ("sex", "age", "cause", "origin")[(level + i) % 4]
                if parted:
                    assert ours.baselines(codes, until, dimension) == theirs.baselines(
                        codes, until, dimension
                    )
                answered += sum(len(v) for v in expected.values())
                queries = [
                    FlowQuery(code, level, below, after)
                    for code in codes[:40]
                    for below in (False, True)
                    for after in (None, date(2014, 1, 1), date(2019, 6, 30))
                ]
                assert ours.flow_sums(queries, until) == theirs.flow_sums(queries, until)
                for dimension in ("sex", "origin") if parted else ():  # (origin: singles too)
                    assert ours.flow_sums(queries, until, dimension) == theirs.flow_sums(
                        queries, until, dimension
                    )
                assert ours.flow_facts(queries, until) == theirs.flow_facts(queries, until)
    assert answered > 50
    reader.close()


@pytest.mark.slow  # one question at a time on purpose: many statements (7 s on PostgreSQL)
def test_the_batched_rule_on_the_sql_facts_gives_the_plain_rule(generated: Ledger) -> None:
    reader = ReadService.open(target_of(generated))
    index = reader.index
    with reader.models.snapshot(reader.conn) as cur:
        for moment in moments()[::3]:
            facts = SqlFacts(reader.models, cur, to_micros(moment.known_at))
            places = [c.pcode for c in index.countries()][:4]
            places += [r for c in places for r in index.children[c]]
            got = FigureRule(facts, index, moment.as_of).figures(places)
            for pcode in places:
                plain = plain_figure(facts, index, moment.as_of, pcode)
                ours = got[pcode]
                assert (ours.individuals, ours.households, ours.partial) == (
                    plain.individuals, plain.households, plain.partial,
                ), (moment, pcode)  # fmt: skip
    reader.close()


def test_a_country_by_region_takes_a_few_statements_per_level(generated: Ledger) -> None:
    """Every question about a level is asked together: the statements a totals answer
    takes grow with the number of admin levels, not of locations."""
    reader = ReadService.open(target_of(generated))
    country = reader.index.countries()[0]
    statements = []

    class CountingCursor:
        def __init__(self, cur: Any) -> None:
            self.cur = cur

        def execute(self, *args: Any) -> Any:
            statements.append(args[0])
            return self.cur.execute(*args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.cur, name)

    with reader.models.snapshot(reader.conn) as cur:
        facts = SqlFacts(reader.models, CountingCursor(cur), to_micros(datetime.now(UTC)))
        rule = FigureRule(facts, reader.index, date(2026, 1, 1))
        regions = reader.index.children[country.pcode]
        figures = rule.figures([country.pcode, *regions])
    locations = 1 + len(regions) + sum(len(reader.index.children[r]) for r in regions)
    assert sum(1 for f in figures.values() if f.records) > 5
    assert len(statements) <= 4 * 3 < locations  # presence, baselines, flows (×3 columns)
    reader.close()


def test_explain_agrees_with_totals_on_generated_data(generated: Ledger) -> None:
    reader = ReadService.open(target_of(generated))
    moment = Moment(date(2018, 12, 31), datetime.now(UTC))
    region = reader.index.children["AAA"][0]
    (totals,) = reader.totals(moment, "AAA", "admin1").countries
    row = next(r for r in totals.rows or () if r.pcode == region)
    explained = reader.explain(moment, region).to_json()
    assert explained["individuals"] == row.individuals

    def flows(node: dict[str, Any]) -> int:
        own = sum(
            -f["individuals"] if f["kind"] == "return" else f["individuals"] for f in node["flows"]
        )
        base = node["baseline"]["individuals"] if node["baseline"] else 0
        kids = sum(flows(c) for c in node["children"])
        return int(base + own + kids)

    assert flows(explained) == row.individuals
    reader.close()


def test_read_models_in_another_layout_are_dropped_and_rebuilt(generated: Ledger) -> None:
    target = target_of(generated)
    first = projection(generated, models_for(target))
    first.catch_up()
    expected = first.checksum()
    first.conn.close()
    # a database whose read models an older version of the ledger wrote
    sql(generated, "DELETE FROM dlp_position WHERE view = 'schema'")
    sql(generated, "DROP TABLE dlp_details")
    reopened = projection(generated, models_for(target))
    assert reopened.position() == 0  # dropped, not mixed with the old rows
    assert reopened.catch_up().applied == generated.recorder.max_notification_id()
    assert reopened.checksum() == expected
    reopened.conn.close()


def test_timestamps_read_back_to_the_microsecond(generated: Ledger) -> None:
    ReadService.open(target_of(generated)).close()
    [(micros,)] = sql(generated, "SELECT max(recorded_at) FROM dlp_versions")
    assert from_micros(micros).tzinfo is not None and to_micros(from_micros(micros)) == micros
