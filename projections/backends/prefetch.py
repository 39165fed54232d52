"""Parsing the next pages' new records on a second connection while the first connection
applies the current page (SQLite, a large backlog: a rebuild, the first read after an
import).

SQLite parses JSON on the thread that steps the statement, and the set-based catch-up
spends about a third of its time parsing the states of new records. Python's ``sqlite3``
releases the GIL for the whole of a statement's step, so a second thread with its own
connection can run the page's parsing statement into a scratch database while the first
applies the page before: the machine's second core does the parsing.

The scratch database is a file of its own in a temporary directory (in WAL mode, so the
parser writes while the applier reads), deleted when the catch-up ends; the ledger's
file is only read by the parser. What it holds is a cache: the applier takes a parsed
page only if it starts at the applier's tracking position and holds exactly as many rows
as the page has new records; anything else (another process moved the position, a state
the statement cannot read, a location missing from ``dlp_locations``) and the applier
parses that page itself, as it does without a prefetch, and stops the prefetch.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Full, Queue

from ledger.backends import EVENTS_TABLE
from projections.backends.sqlite import SCRATCH as SCHEMA

PAGE_END = (
    f"SELECT count(*), max(id) FROM (SELECT id FROM {EVENTS_TABLE} "
    "WHERE id > :after ORDER BY id LIMIT :size) AS page"
)


@dataclass(frozen=True)
class Parsed:
    """One page of the log parsed into the scratch table: positions (after, last], its
    number of events, and how many new records the parsing statement took."""

    after: int
    last: int
    size: int
    rows: int


class Prefetch:
    """A thread that parses page after page from ``start`` until the head of the log,
    at most two pages ahead of the applier."""

    def __init__(
        self,
        database: str,
        start: int,
        *,
        page_size: int,
        fill: str,
        columns: str,
        topic: str,
    ) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="dledger-parse-"))
        self.path = str(self.directory / "parsed.db")
        scratch = sqlite3.connect(self.path, isolation_level=None)
        try:
            scratch.execute("PRAGMA journal_mode = WAL")
            scratch.execute(f"CREATE TABLE dlp_new (position INTEGER PRIMARY KEY, {columns})")
        finally:
            scratch.close()
        self._queue: Queue[Parsed | None] = Queue(maxsize=1)
        self._stop = threading.Event()
        self._applied = start  # pages up to here are done with: the parser deletes them
        self._thread = threading.Thread(
            target=self._run,
            args=(database, start, page_size, fill, topic),
            name="dledger-parse",
            daemon=True,
        )
        self._thread.start()

    def _run(self, database: str, start: int, page_size: int, fill: str, topic: str) -> None:
        # an SQLite error here (a state the statement cannot read, say) only ends the
        # prefetch: the applier then parses that page itself and meets, and reports, it
        db = None
        try:
            db = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
            db.execute("ATTACH DATABASE ? AS " + SCHEMA, (self.path,))
            db.execute(f"PRAGMA {SCHEMA}.synchronous = OFF")
            after = start
            while not self._stop.is_set():
                size, last = db.execute(PAGE_END, {"after": after, "size": page_size}).fetchone()
                if not size:
                    break
                db.execute("BEGIN")
                db.execute(f"DELETE FROM {SCHEMA}.dlp_new WHERE position <= ?", (self._applied,))
                rows = db.execute(fill, {"after": after, "last": last, "topic": topic}).rowcount
                db.execute("COMMIT")
                if not self._put(Parsed(after, last, size, rows)):
                    break
                after = last
        except sqlite3.Error:
            pass
        finally:
            if db is not None:
                db.close()
            self._put(None)  # whatever happened, the applier is not left waiting

    def _put(self, item: Parsed | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except Full:
                continue
        return False

    def attach(self, conn: sqlite3.Connection) -> None:
        """Make the scratch table readable on the applier's connection."""
        conn.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (self.path,))

    def detach(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute(f"DETACH DATABASE {SCHEMA}")
        except sqlite3.Error:  # pragma: no cover - never left attached: close it instead
            conn.close()
            raise

    def take(self, start: int) -> Parsed | None:
        """The parsed page that starts at ``start``, or None (the prefetch is then over:
        at the head, failed, or out of step with the applier)."""
        if self._stop.is_set():
            return None
        item = self._queue.get()
        if item is None or item.after != start:
            self.close()
            return None
        return item

    def applied(self, position: int) -> None:
        """The applier committed every page up to ``position``."""
        self._applied = position

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()
        shutil.rmtree(self.directory, ignore_errors=True)
