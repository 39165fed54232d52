"""PostgreSQL for real: processes writing, correcting and catching up at the same time.

Two worker processes each bulk-write generated figures in small batches, record and
correct figures through the ordinary use cases, and catch the figure table up after every
batch, so their catch-ups race over the same pages. Afterwards nothing may be lost and
nothing applied twice: one row per figure event, the position at the head of the log, and
the table identical (same checksum) to a rebuild from zero.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.generate import catalogue
from ledger.storage import close_ledger, open_ledger
from tests.chain_tampering import sql
from tests.reading import projection_of

ROOT = Path(__file__).resolve().parents[1]
WORKER = """
import sys
from bench.generate import ledger_items
from ledger.bulk import BulkWriter
from ledger.storage import close_ledger, open_ledger
from projections.service import open_projection

url, seed, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ledger = open_ledger(url, actor=f"worker-{seed}")
projection = open_projection(url)
writer = BulkWriter(ledger, f"worker-{seed}", batch_size=120)
items = list(ledger_items(rounds * 120, seed=seed))
for k in range(rounds):
    writer.write(items[k * 120 : (k + 1) * 120])
    written = ledger.record(kind="registration", location="AAA01", date="2020-01-31",
                            individuals=10 + seed, source={"publisher": f"worker {seed}"})
    ledger.correct(written.record_id, individuals=20 + seed, reason="recount")
    projection.catch_up()
projection.catch_up()
close_ledger(ledger)
print("done")
"""


@pytest.mark.postgres
def test_two_processes_writing_and_catching_up_lose_nothing_and_apply_nothing_twice(
    pg_database: str,
) -> None:
    from tests.conftest import _empty_postgres

    _empty_postgres(pg_database)
    ledger = open_ledger(pg_database, actor="tester", create=True)
    ledger.register_locations(catalogue().locations, source="test catalogue")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, pg_database, str(seed), "12"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (11, 12)
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-2000:]
        assert out.strip() == "done"
    [(figure_events,)] = sql(
        ledger,
        "SELECT count(*) FROM dledger_events WHERE topic LIKE 'ledger.records:FigureRecord.%'",
    )
    [(rows, current, records)] = sql(
        ledger,
        "SELECT count(*), count(*) - count(superseded_at), count(DISTINCT record_id) "
        "FROM dlp_versions",
    )
    assert figure_events > 2 * 12 * 120  # both workers wrote everything
    assert rows == figure_events  # nothing lost, nothing twice
    assert current == records  # exactly one current version per record
    with projection_of(ledger) as projection:
        assert projection.position() == ledger.recorder.max_notification_id()
        incremental = projection.checksum()
        projection.rebuild()
        assert projection.checksum() == incremental
    close_ledger(ledger)
