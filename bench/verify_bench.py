"""Benchmark: `verify` throughput on a SQLite ledger, against a plain SELECT of the rows.

    python bench/verify_bench.py [--events 200000] [--db PATH]

Creates N events of ~345 bytes through the ledger's recorder (so every event gets its
chain link, as in production), then times ``dledger verify``'s walk and, as the reference
in the same process, a plain ``sqlite3`` SELECT of the same event rows. Speed is a ratio
against that reference, not an absolute target (docs/design.md).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from ledger.chain import open_log
from ledger.storage import open_ledger

TOPIC = "ledger.records:FigureRecord.Recorded"
BATCH = 10_000


def make_events(ledger_path: str, count: int) -> None:
    ledger = open_ledger(ledger_path, create=True)
    state = b'{"individuals":38172,"households":7716,"source":{"publisher":"IOM DTM"},' + b"x" * 270
    try:
        for start in range(0, count, BATCH):
            batch = [
                StoredEvent(uuid4(), 1, TOPIC, state + str(i).encode())
                for i in range(start, min(start + BATCH, count))
            ]
            ledger.recorder.insert_events(batch)
    finally:
        ledger.close()
        ledger.recorder.datastore.engine.dispose()  # type: ignore[attr-defined]


def time_verify(ledger_path: str) -> tuple[float, float, int]:
    """(wall seconds, this process's CPU seconds, events checked)."""
    log = open_log(ledger_path)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        result = log.verify()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        log.close()
    if not result.intact:
        raise SystemExit(f"verify failed: {result.problem}")
    return elapsed, cpu, result.events_checked


def time_plain_select(ledger_path: str) -> float:
    connection = sqlite3.connect(ledger_path)
    started = time.perf_counter()
    for _ in connection.execute(
        "SELECT id, originator_id, originator_version, topic, state FROM dledger_events"
    ):
        pass
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--db", help="SQLite file to create (default: a temporary file)")
    parser.add_argument("--reuse", help="time an existing bench database instead of creating one")
    args = parser.parse_args()
    if args.reuse:
        path = args.reuse
    else:
        path = args.db or os.path.join(tempfile.mkdtemp(prefix="verify_bench_"), "bench.db")
        if Path(path).exists():
            raise SystemExit(f"{path} exists; give a new file")
        started = time.perf_counter()
        make_events(path, args.events)
        created = time.perf_counter() - started
        print(
            f"created {args.events:,} events with links in {created:.1f} s "
            f"({args.events / created:,.0f} events/s) in {path}"
        )
    runs = [time_verify(path) for _ in range(3)]
    verify_s = sorted(r[0] for r in runs)[1]
    verify_cpu = sorted(r[1] for r in runs)[1]
    checked = runs[0][2]
    select_s = sorted(time_plain_select(path) for _ in range(3))[1]
    for name, seconds, unit in (("verify", verify_s, "events"), ("plain SELECT", select_s, "rows")):
        rate = checked / seconds
        print(f"{name:<13} {checked:>10,} {unit:<6} {seconds:6.2f} s  {rate:>10,.0f} {unit}/s")
    print(
        f"verify (CPU time of this process, robust to a busy machine): "
        f"{checked / verify_cpu:,.0f} events/s"
    )
    print(f"verify / plain SELECT time: {verify_s / select_s:.1f}x  (median of 3 runs)")


if __name__ == "__main__":
    main()
