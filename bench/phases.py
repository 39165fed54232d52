"""One benchmark phase per process, so each reports its own peak memory (RSS).

``python -m bench.phases PHASE TARGET EVENTS`` prints one JSON object on stdout.
Phases: write, write-ref, catch-up, rebuild, read-ref, queries.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from bench.generate import RECORDING_END, RECORDING_START, SyntheticClock, catalogue, ledger_items
from bench.pipelined import PipelinedWriter
from ledger.bulk import BulkWriter
from ledger.storage import close_ledger, open_ledger

# items generated (untimed) per write call: four of the writer's batches, so its insert
# thread works while the next batch is encoded; each call drains before the next chunk is
# generated, so no insert work hides in the untimed generation
CHUNK = 100_000
SEED = 7


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


BREAKDOWNS = os.environ.get("DLEDGER_BENCH_BREAKDOWNS") == "1"  # every record broken down


def _chunks(events: int) -> Any:
    items = ledger_items(events, SEED, breakdowns=BREAKDOWNS)
    while chunk := list(itertools.islice(items, CHUNK)):
        yield chunk


def write(target: str, events: int) -> dict[str, Any]:
    """The bulk path: events built directly and inserted in batches (generation untimed)."""
    ledger = open_ledger(target, actor="bench", create=True)
    ledger.register_locations(catalogue(SEED).locations, source="bench catalogue")
    writer = PipelinedWriter(ledger, "bench", clock=SyntheticClock(events))
    seconds = 0.0
    for chunk in _chunks(events):
        start = time.perf_counter()
        writer.write(chunk)
        seconds += time.perf_counter() - start
    close_ledger(ledger)
    return {"events": writer.written, "seconds": seconds, "rss_mb": peak_rss_mb()}


def write_ref(target: str, events: int) -> dict[str, Any]:
    """Plain DB-API ``executemany`` of the same serialized rows, one transaction."""
    ledger = open_ledger(target, actor="bench")
    writer = BulkWriter(ledger, "bench", clock=SyntheticClock(events))
    if target.startswith("postgresql"):
        engine = ledger.recorder.datastore.engine  # type: ignore[attr-defined]
        raw: Any = engine.raw_connection()
        cur = raw.cursor()
        cur.execute("DROP TABLE IF EXISTS bench_reference_events")
        cur.execute(
            "CREATE TABLE bench_reference_events (id bigserial, originator_id uuid, "
            "originator_version integer, topic text, state bytea, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        raw.commit()
        sql = (
            "INSERT INTO bench_reference_events (originator_id, originator_version, topic, "
            "state) VALUES (%s, %s, %s, %s)"
        )
    else:
        import sqlite3

        raw = sqlite3.connect(target + ".ref")
        cur = raw.cursor()
        cur.execute("DROP TABLE IF EXISTS bench_reference_events")
        cur.execute(
            "CREATE TABLE bench_reference_events (id INTEGER PRIMARY KEY, originator_id "
            "TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
            "UNIQUE (originator_id, originator_version))"
        )
        raw.commit()
        sql = (
            "INSERT INTO bench_reference_events (originator_id, originator_version, topic, "
            "state) VALUES (?, ?, ?, ?)"
        )
    seconds = 0.0
    written = 0
    for chunk in _chunks(events):
        rows = []
        for item in chunk:  # the stored events, byte for byte (tests/test_speed_equivalence.py)
            oid, version, topic, state = writer.row(item)
            rows.append((str(UUID(bytes=oid)), version, topic, state))
        start = time.perf_counter()
        cur.executemany(sql, rows)
        seconds += time.perf_counter() - start
        written += len(rows)
    start = time.perf_counter()
    raw.commit()
    seconds += time.perf_counter() - start
    cur.execute("DROP TABLE bench_reference_events")
    raw.commit()
    raw.close()
    close_ledger(ledger)
    return {"events": written, "seconds": seconds, "rss_mb": peak_rss_mb()}


def catch_up(target: str, events: int) -> dict[str, Any]:
    from projections.service import open_projection

    projection = open_projection(target)
    start = time.perf_counter()
    done = projection.catch_up()
    seconds = time.perf_counter() - start
    projection.conn.close()
    return {"events": done.applied, "seconds": seconds, "rss_mb": peak_rss_mb()}


def rebuild(target: str, events: int) -> dict[str, Any]:
    from projections.service import open_projection

    projection = open_projection(target)
    start = time.perf_counter()
    done = projection.rebuild()
    seconds = time.perf_counter() - start
    checksum = projection.checksum()
    projection.conn.close()
    return {
        "events": done.applied,
        "seconds": seconds,
        "rss_mb": peak_rss_mb(),
        "checksum": checksum,
    }


def read_ref(target: str, events: int) -> dict[str, Any]:
    """Plain select of the whole log in pages of 2,000 (by id), with ``json.loads`` of
    every state: the floor under any catch-up."""
    from sqlalchemy import text

    from ledger.backends import EVENTS_TABLE

    ledger = open_ledger(target, actor="bench")
    engine = ledger.recorder.datastore.engine  # type: ignore[attr-defined]
    statement = text(
        f"SELECT id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
        "WHERE id > :after ORDER BY id LIMIT 2000"
    )
    start = time.perf_counter()
    count = 0
    after = 0
    with engine.connect() as conn:
        while rows := conn.execute(statement, {"after": after}).all():
            for row in rows:
                json.loads(row[4])
            count += len(rows)
            after = rows[-1][0]
    seconds = time.perf_counter() - start
    close_ledger(ledger)
    return {"events": count, "seconds": seconds, "rss_mb": peak_rss_mb()}


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return (time.perf_counter() - start) * 1000, result


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"median_ms": statistics.median(ordered), "p99_ms": p99}


def queries(target: str, events: int, count: int = 40) -> dict[str, Any]:
    """``totals --by admin1`` of the largest country and ``explain`` of its largest region,
    over varied dates and known-at instants (half of them "now"), next to DuckDB."""
    from bench.duck import DuckTotals
    from projections.schema import to_micros
    from projections.service import ReadService
    from projections.totals import Moment

    reader = ReadService.open(target)
    index = reader.index
    country = index.countries()[0].pcode
    region = index.children[country][0]
    duck = DuckTotals(reader)
    rnd = random.Random(11)
    now = datetime.now(UTC)
    moments = []
    for i in range(count):
        as_of = date(2011, 1, 1) + timedelta(days=rnd.randint(0, 15 * 365))
        past = RECORDING_START + (RECORDING_END - RECORDING_START) * rnd.random()
        known = past if i % 2 else now
        moments.append(Moment(as_of, known))
    ours, theirs, explains, broken, mismatches = [], [], [], [], 0
    reader.totals(moments[0], country, "admin1")  # warm the statement cache
    reader.totals(moments[0], country, "admin1", "sex")
    duck.totals(to_micros(moments[0].known_at), moments[0].as_of, country)
    for moment in moments:
        ms, result = _timed(partial(reader.totals, moment, country, "admin1"))
        ours.append(ms)
        micros = to_micros(moment.known_at)
        ms, expected = _timed(partial(duck.totals, micros, moment.as_of, country))
        theirs.append(ms)
        [totals] = result.countries
        got = {country: totals.total.individuals}
        got.update({r.pcode: r.individuals for r in totals.rows or () if r.pcode})
        if got != expected:
            mismatches += 1
        ms, _ = _timed(partial(reader.explain, moment, region))
        explains.append(ms)
        ms, parted = _timed(partial(reader.totals, moment, country, "admin1", "sex"))
        broken.append(ms)
        if parted.countries[0].total.individuals != totals.total.individuals:
            mismatches += 1
    reader.close()
    return {
        "rows": duck.rows,
        "locations": len(index),
        "country": country,
        "regions": len(index.children[country]),
        "region": region,
        "totals": _stats(ours),
        "duckdb": _stats(theirs),
        "explain": _stats(explains),
        "totals_by_sex": _stats(broken),
        "mismatches": mismatches,
        "queries": count,
        "rss_mb": peak_rss_mb(),
    }


PHASES: dict[str, Callable[[str, int], dict[str, Any]]] = {
    "write": write,
    "write-ref": write_ref,
    "catch-up": catch_up,
    "rebuild": rebuild,
    "read-ref": read_ref,
    "queries": queries,
}


def main() -> None:
    phase, target, events = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(json.dumps(PHASES[phase](target, events)))


if __name__ == "__main__":
    main()
