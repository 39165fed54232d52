"""The import's fast paths against the straightforward ones, on generated data.

The bulk write path against every write through the ``FigureRecord`` aggregate and
``Ledger.save`` (both backends): the same events (topics, originator ids and versions,
states but for the timestamp), the same reports, and an intact hash chain. The row
checker, which validates each row shape in full once, against a fresh checker per row."""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bench.import_bench import HEADER, TAGS, generated_rows
from ledger.application import Ledger
from ledger.importing import ImportOptions, import_file
from ledger.importing.checking import RowChecker
from ledger.importing.rows import SourceRow
from ledger.importing.saving import BulkSaver
from ledger.locations import LocationIndex
from tests.chain_tampering import verify
from tests.import_files import write_plain
from tests.import_reference import AggregateSaver

PLAIN_HEADER = [
    "kind",
    "location",
    "date",
    "individuals",
    "households",
    "source",
    "source_url",
    "published_on",
    "round",
    "origin",
    "cause",
    "note",
]
PLACES = ["Mali", "Mopti", "ML08", "Gao", "Tombouctou", "Ménaka", "Mopti/Mopti", "ML0101"]


def dtm_file(path: Path, rows: list[list[str]]) -> Path:
    return write_plain(path, HEADER, [TAGS, *rows])


def dtm_rows(count: int, rng: random.Random) -> list[list[str]]:
    """The benchmark's generated rows, some stocks also reported by a site assessment."""
    rows = list(generated_rows(count))
    for row in rows[::17]:
        rows.append([*row[:8], str(int(row[8]) + 7), *row[9:12], "SA"])
    rng.shuffle(rows)
    return rows


def revised_dtm(rows: list[list[str]], rng: random.Random) -> list[list[str]]:
    """Some counts changed, some stocks dropped (all their reason rows)."""
    dropped = {(r[6], r[10]) for r in rng.sample(rows, len(rows) // 20)}
    out = []
    for row in rows:
        if (row[6], row[10]) in dropped:
            continue
        if rng.random() < 0.1:
            row = [*row[:8], str(int(row[8]) + rng.randint(1, 50)), *row[9:]]
        out.append(row)
    return out


def plain_rows(count: int, rng: random.Random) -> list[list[str]]:
    rows = []
    for i in range(count):
        individuals = rng.randint(0, 90_000)
        households = rng.choice(["", "unknown", str(rng.randint(0, individuals))])
        rows.append(
            [
                rng.choice(["assessment", "registration", "Return"]),
                rng.choice(PLACES),
                rng.choice([f"2017-{1 + i % 12:02d}", f"2018-02-{1 + i % 28:02d}", "2016"]),
                f"{individuals:,}" if i % 5 == 0 else str(individuals),
                households,
                rng.choice(["DTM DNDS", " IOM « DTM » ", 'Cluster "Protection"']),
                rng.choice(["", "https://example.org/r?x=1&y=é"]),
                rng.choice(["", "2018-03-01", "2018-03"]),
                str(i),  # the round keeps every row's identity apart
                rng.choice(["", "Tombouctou", "ML0501"]),
                rng.choice(["", "Conflict", "n/a", "Natural disaster"]),
                rng.choice(["", "illustrative\nsplit", "ça va \\ \x01"]),
            ]
        )
    return rows


def revised_plain(rows: list[list[str]], rng: random.Random) -> list[list[str]]:
    out = []
    for row in rows:
        if rng.random() < 0.05:
            continue
        if rng.random() < 0.2:
            individuals = int(row[3].replace(",", "")) + rng.randint(1, 99)
            row = [*row[:3], str(individuals), rng.choice(["", row[4]]), *row[5:]]
        out.append(row)
    return out


def events(ledger: Ledger) -> list[tuple[Any, ...]]:
    """Every stored event in order: id, version, topic and the state without its timestamp."""
    table = ledger.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    query = select(
        table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state
    ).order_by(table.c.id)
    with ledger.recorder.transaction(commit=False) as session:  # type: ignore[attr-defined]
        rows = session.execute(query).all()
    out = []
    for oid, version, topic, state in rows:
        decoded = json.loads(bytes(state))
        assert decoded.pop("timestamp")["_type_"] == "datetime_iso"
        out.append((str(oid), version, topic, decoded))
    return out


def history(make: Callable[[], Ledger], tmp: Path, bulk: bool) -> tuple[list[Any], list[Any]]:
    """Import a DTM file and a plain file, then their revisions (retracting what is missing),
    then the revisions again; the events written and each import's report."""
    rng = random.Random(11)
    dtm = dtm_rows(1_200, rng)
    plain = plain_rows(200, rng)
    files = [
        (dtm_file(tmp / "dtm.csv", dtm), False),
        (write_plain(tmp / "plain.csv", PLAIN_HEADER, plain), False),
        (dtm_file(tmp / "dtm-revised.csv", revised_dtm(dtm, rng)), True),
        (write_plain(tmp / "plain-revised.csv", PLAIN_HEADER, revised_plain(plain, rng)), True),
        (tmp / "dtm-revised.csv", True),
        (tmp / "plain.csv", False),
    ]
    ledger = make()
    reports = []
    for path, retract in files:
        options = ImportOptions(retract_missing=retract, batch_size=500)
        saver = BulkSaver if bulk else AggregateSaver
        reports.append(import_file(ledger, path, options, saver=saver).as_dict())
    assert verify(ledger).intact
    return events(ledger), reports


def test_bulk_import_writes_the_events_the_aggregates_write(
    fresh_ledger: Callable[[], Ledger], tmp_path: Path
) -> None:
    fast_events, fast_reports = history(fresh_ledger, tmp_path, bulk=True)
    reference_events, reference_reports = history(fresh_ledger, tmp_path, bulk=False)
    assert fast_reports == reference_reports
    counts = {k: sum(r.get(k, 0) for r in fast_reports) for k in ("new", "correct", "retract")}
    assert all(n > 20 for n in counts.values()), counts  # every kind of write is compared
    assert len(fast_events) == len(reference_events)
    assert fast_events == reference_events


GOOD_CELLS = {
    "kind": ["assessment", "registration"],
    "location": ["Mali", "Mopti", "ML0501"],
    "date": ["2018-01", "2018-01-31", "2016"],
    "individuals": ["100", "7", "1,500", "0"],
    "households": ["", "unknown", "5"],
    "publisher": ["DTM", " IOM "],
    "round": ["", "1"],
    "published_on": ["", "2018-02"],
    "origin": ["", "Gao"],
    "cause": ["", "Conflict", "n/a"],
    "note": ["", "a note"],
}
BAD_CELLS = {
    "kind": ["flow", ""],
    "location": ["Atlantis", ""],
    "date": ["2999-01", "31/01/2018", ""],
    "individuals": ["-1", "1.5", "lots", ""],
    "households": ["101", "8", "-2", "x"],
    "publisher": [""],
    "round": [],
    "published_on": ["2999-01-01", "soon"],
    "origin": ["Nowhere"],
    "cause": [],
    "note": [],
}


def cells(name: str, weight: int) -> st.SearchStrategy[str]:
    """Good cells ``weight`` times as often as bad ones (so that shapes validate and repeat)."""
    return st.sampled_from(GOOD_CELLS[name] * weight + BAD_CELLS[name])


COUNTED = ("location", "individuals", "households")


@st.composite
def rows_of_few_shapes(draw: st.DrawFn) -> list[dict[str, str]]:
    """Rows that share one of a few shapes (everything but location and counts)."""
    shape_cells = st.fixed_dictionaries({n: cells(n, 6) for n in GOOD_CELLS if n not in COUNTED})
    shapes = draw(st.lists(shape_cells, min_size=1, max_size=3))
    counted = st.fixed_dictionaries({name: cells(name, 2) for name in COUNTED})
    rows = draw(st.lists(st.tuples(st.sampled_from(shapes), counted), min_size=1, max_size=30))
    return [{**shape, **counts} for shape, counts in rows]


@settings(max_examples=100, deadline=None)
@given(rows_of_few_shapes())
def test_rows_of_one_shape_are_checked_as_if_each_were_alone(rows: list[dict[str, str]]) -> None:
    """The checker validates a row shape in full once, then only each row's counts: every
    row must come out (staged values or errors) as a checker that never saw another row
    makes of it."""
    index = _mali_index()
    columns = {name: name for name in GOOD_CELLS}
    shared = RowChecker(index, columns, dtm=False, default_publisher=None)
    for line, values in enumerate(rows, start=2):
        row = SourceRow(line, values, tuple(values.values()))
        alone = RowChecker(index, columns, dtm=False, default_publisher=None)
        assert shared.check(row) == alone.check(row)


@functools.cache
def _mali_index() -> LocationIndex:
    from ledger.gazetteer import Gazetteer
    from ledger.reference import mali_locations

    gazetteer = Gazetteer()
    gazetteer.register(mali_locations(), source="test", actor="tester")
    return gazetteer.index()
