"""PostgreSQL restarting in the middle of a bulk write, on a throwaway cluster.

The test starts its own cluster with ``initdb`` and ``pg_ctl`` (as the ``postgres`` user
when run as root), writes generated figures from a separate process, stops the server
with ``-m immediate`` (a crash: no clean shutdown) while that process is writing, and
starts it again. The writer must fail with a connection error, the log must hold only
whole batches with no gap, and a re-run of the rest must give exactly the figure table a
one-go write of the same events gives (same rows but for the notification ids, same
totals).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bench.generate import catalogue
from ledger.application import Ledger
from ledger.backends import EVENTS_TABLE
from ledger.storage import close_ledger, open_ledger
from projections.totals import Moment
from tests.chain_tampering import sql
from tests.conftest import missing_service
from tests.reading import totals as totals_of

ROOT = Path(__file__).resolve().parents[1]
PG_BIN = Path(os.environ.get("DLEDGER_PG_BIN", "/usr/lib/postgresql/15/bin"))
# root's sbin directories are not on every PATH (a CI runner's `env -i`, say)
RUNUSER = shutil.which(
    "runuser", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
)
EVENTS, BATCH = 40_000, 1_000
WRITER = """
import sys
from bench.generate import SyntheticClock, ledger_items
from bench.pipelined import PipelinedWriter
from ledger.storage import open_ledger

url, skip, events, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ledger = open_ledger(url, actor="writer")
clock = SyntheticClock(events)
for _ in range(skip):
    clock()
items = list(ledger_items(events, seed=21))[skip:]
try:
    # one commit per batch, so the crash finds some committed and one in flight
    writer = PipelinedWriter(ledger, "writer", batch_size=batch, commit_every=batch, clock=clock)
    writer.write(items)
except Exception as error:
    print(f"{type(error).__name__}: {str(error).splitlines()[0]}", file=sys.stderr)
    sys.exit(1)
print("done")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    return [str(RUNUSER), "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class Cluster:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(PG_BIN / args[0]), *args[1:]]), check=True,
                       capture_output=True, timeout=120)  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                 str(self.folder / "log"), "-w", "start")  # fmt: skip

    def crash(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not (PG_BIN / "initdb").exists():
        missing_service(f"no PostgreSQL binaries at {PG_BIN}")
    if os.geteuid() == 0 and RUNUSER is None:
        missing_service("running as root and no runuser to start the cluster as postgres")
    # outside pytest's private temp tree, which the postgres user cannot enter
    folder = Path(tempfile.mkdtemp(prefix="dledger-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    made = Cluster(folder)
    made.run("initdb", "-D", str(made.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    made.start()
    try:
        yield made
    finally:
        stop = [str(PG_BIN / "pg_ctl"), "-D", str(made.data), "-m", "immediate", "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _writer(url: str, skip: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, url, str(skip), str(EVENTS), str(BATCH)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _figures_written(url: str) -> int:
    """Figure events in the log (counted: after a crash PostgreSQL's sequence skips ids)."""
    ledger = open_ledger(url, actor="probe")
    try:
        [(count,)] = sql(ledger, f"SELECT count(*) FROM {EVENTS_TABLE}")
        return int(count) - 2  # the gazetteer's two events
    finally:
        close_ledger(ledger)


def _rows_without_positions(ledger: Ledger) -> list[tuple[object, ...]]:
    """The figure table minus notification ids (PostgreSQL's sequence skips ids after a
    crash, so the two logs hold the same events under different ids)."""
    from projections.schema import VERSIONS

    columns = ", ".join(c for c in VERSIONS.names if c != "position")
    rows = sql(ledger, f"SELECT {columns} FROM dlp_versions ORDER BY record_id, version")
    return [tuple(str(v) for v in row) for row in rows]


@pytest.mark.slow
@pytest.mark.postgres
def test_restart_mid_write_fails_clearly_and_a_rerun_completes(
    cluster: Cluster, tmp_path: Path
) -> None:
    ledger = open_ledger(cluster.url, actor="tester", create=True)
    ledger.register_locations(catalogue().locations, source="test catalogue")
    close_ledger(ledger)
    writer = _writer(cluster.url, 0)
    deadline = time.monotonic() + 120
    while _figures_written(cluster.url) < 5 * BATCH and time.monotonic() < deadline:
        time.sleep(0.2)
    cluster.crash()
    _, err = writer.communicate(timeout=120)
    assert writer.returncode == 1
    assert "OperationalError" in err or "InterfaceError" in err, err
    cluster.start()

    written = _figures_written(cluster.url)
    assert 0 < written < EVENTS and written % BATCH == 0  # whole batches only
    ledger = open_ledger(cluster.url, actor="tester")
    assert len(ledger.recorder.select_notifications(1, EVENTS + 10)) == written + 2
    close_ledger(ledger)

    rerun = _writer(cluster.url, written)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert _figures_written(cluster.url) == EVENTS

    reference_target = str(tmp_path / "reference.db")
    reference = open_ledger(reference_target, actor="tester", create=True)
    reference.register_locations(catalogue().locations, source="test catalogue")
    close_ledger(reference)
    one_go = _writer(reference_target, 0)
    assert one_go.communicate(timeout=300)[0].strip() == "done"

    results = []
    for target in (cluster.url, reference_target):
        opened = open_ledger(target, actor="tester")
        moment = Moment(date(2020, 12, 31), datetime.now(UTC))
        totals = [t.to_json() | {"known_at": None, "position": None}
                  for t in totals_of(opened, moment, None, "admin1")]  # fmt: skip
        results.append((_rows_without_positions(opened), totals))
        close_ledger(opened)
    assert results[0] == results[1]
