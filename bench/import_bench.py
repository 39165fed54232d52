"""Import benchmark: a generated DTM-style HXL CSV into a fresh SQLite ledger.

    PYTHONPATH=. python bench/import_bench.py [--rows 100000] [--batch 2000]

Reports rows/s, events/s and peak RSS of the import (run in a child process, so the
peak is the import's own), next to the reference measured in the same run: a plain
``sqlite3.executemany`` of the same number of rows, each an event-sized row (uuid,
version, topic, ~350-byte JSON state), in one transaction. The generated country TST is
synthetic: 20 regions x 50 districts, 3 displacement reasons per district and round,
so every 3 rows sum into one stock (one record, one event).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

REASONS = ("Conflict", "Natural disaster", "No reason for displacement reported")
HEADER = [
    "operation",
    "admin0Name",
    "admin0Pcode",
    "admin1Name",
    "admin1Pcode",
    "admin2Name",
    "admin2Pcode",
    "adminLevel",
    "numPresentIdpInd",
    "reportingDate",
    "roundNumber",
    "displacementReason",
    "assessmentType",
]
TAGS = [
    "#operation+name",
    "#country+name",
    "#country+code",
    "#adm1+name",
    "#adm1+code",
    "#adm2+name",
    "#adm2+code",
    "#adm+level",
    "#affected+idps",
    "#date+reported",
    "#round+code",
    "#cause+type",
    "#assessment+type",
]


def generated_rows(count: int) -> Iterator[list[str]]:
    n = 0
    round_ = 0
    while True:
        round_ += 1
        # monthly rounds from 1990: 1,000,000 rows (334 rounds) end in 2017
        year, month = 1990 + (round_ - 1) // 12, (round_ - 1) % 12 + 1
        for region in range(1, 21):
            for district in range(1, 51):
                for reason in REASONS:
                    if n == count:
                        return
                    n += 1
                    adm1, adm2 = f"TST{region:02d}", f"TST{region:02d}{district:02d}"
                    yield [
                        "Bench operation",
                        "Testland",
                        "TST",
                        f"Region {region}",
                        adm1,
                        f"District {region}-{district}",
                        adm2,
                        "2",
                        str(n % 5000),
                        f"{year}-{month:02d}-28T00:00:00",
                        str(round_),
                        reason,
                        "BA",
                    ]


def write_file(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerow(TAGS)
        writer.writerows(generated_rows(count))


def reference(path: Path, count: int) -> float:
    """Plain sqlite3 executemany of ``count`` event-sized rows, one transaction: rows/s."""
    state = json.dumps(
        {
            "kind": "assessment",
            "pcode": "TST0101",
            "date": "2000-01-28",
            "precision": "day",
            "individuals": 1234,
            "households": None,
            "source": {"publisher": "IOM DTM", "report": "Bench operation", "round": "1"},
            "origin": None,
            "cause": "Conflict",
            "note": None,
            "actor": "bench",
            "import_key": "v1|x" * 20,
        }
    ).encode()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, originator_id BLOB, "
        "originator_version INT, topic TEXT, state BLOB, "
        "UNIQUE (originator_id, originator_version))"
    )
    start = time.perf_counter()
    with db:
        db.executemany(
            "INSERT INTO events (originator_id, originator_version, topic, state) "
            "VALUES (?, 1, 'ledger.records:FigureRecord.Recorded', ?)",
            ((uuid.uuid4().bytes, state) for _ in range(count)),
        )
    elapsed = time.perf_counter() - start
    db.close()
    return count / elapsed


def import_child(file: Path, db: Path, batch: int) -> None:
    """Runs in a child process: import the file, print timings and peak RSS as JSON."""
    from ledger.importing import ImportOptions, import_file
    from ledger.storage import close_ledger, open_ledger

    ledger = open_ledger(str(db), actor="bench", create=True)
    start = time.perf_counter()
    report = import_file(ledger, file, ImportOptions(batch_size=batch))
    elapsed = time.perf_counter() - start
    close_ledger(ledger)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "rows": report.rows,
                "records": report.count("new"),
                "seconds": elapsed,
                "peak_rss_mib": peak_kib / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--child", nargs=2, metavar=("FILE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import_child(Path(args.child[0]), Path(args.child[1]), args.batch)
        return
    with tempfile.TemporaryDirectory(prefix="dledger-bench-") as tmp:
        file = Path(tmp) / "dtm.csv"
        write_file(file, args.rows)
        ref = reference(Path(tmp) / "reference.db", args.rows)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--batch",
                str(args.batch),
                "--child",
                str(file),
                str(Path(tmp) / "ledger.db"),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if child.returncode != 0:
            sys.exit(f"the import failed: {child.stderr.strip()[-2000:]}")
        result = json.loads(child.stdout)
        rate = result["rows"] / result["seconds"]
        print(
            f"file: {args.rows:,} rows ({file.stat().st_size / 2**20:.1f} MiB), "
            f"{result['records']:,} records (3 reason rows per stock), batch {args.batch}"
        )
        print(f"reference sqlite3.executemany: {ref:,.0f} rows/s")
        print(
            f"dledger import:                {rate:,.0f} rows/s "
            f"({result['records'] / result['seconds']:,.0f} events/s) "
            f"in {result['seconds']:.1f} s = {rate / ref:.1%} of the reference"
        )
        print(f"import peak RSS:               {result['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
