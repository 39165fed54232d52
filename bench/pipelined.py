"""The benchmark's writer: the product's bulk encoder and append, pipelined over two threads.

The calling thread encodes batch *n + 1* (``BulkWriter.row``) while a writer thread
appends batch *n* through the recorder (``LedgerRecorder.append_rows``: the set-based
INSERT or COPY, the chain's links, the append lock) and commits every ``commit_every``
events: memory stays bounded by the batch size while the database spills what its cache
cannot hold. The cyclic garbage collector's automatic runs are paused (over the batch's
young objects they cost a third of the time); one collection per batch frees what the
sessions leave in cycles. Generating a synthetic history fast enough to measure the
storage is the bench's concern, not the product's, so this lives here.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from queue import Full, Queue
from typing import Any

from sqlalchemy import text

from ledger.backends import EventRow
from ledger.bulk import BulkWriter, Item

COMMIT_EVERY = 100_000
SQLITE_CACHE_KIB = 256 * 1024


@dataclass
class PipelinedWriter(BulkWriter):
    commit_every: int = COMMIT_EVERY
    # SQLite page cache for the writes: the unique index on (random) record ids outgrows
    # SQLite's default 2 MB cache near a million events; then each insert waits on a read
    sqlite_cache_kib: int = SQLITE_CACHE_KIB

    def write(self, items: Iterable[Item]) -> int:
        collecting = gc.isenabled()
        gc.disable()
        queue: Queue[list[EventRow] | None] = Queue(maxsize=1)
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk") as pool:
                inserting = pool.submit(self._insert_all, queue)
                try:
                    for batch in self._batches(items):
                        _hand_over(queue, batch, inserting)
                        gc.collect(1)
                finally:
                    if not inserting.done():  # what was handed over commits; then it stops
                        _hand_over(queue, None, inserting)
                inserting.result()
        finally:
            if collecting:
                gc.enable()
        return self.written

    def _batches(self, items: Iterable[Item]) -> Iterator[list[EventRow]]:
        rows: list[EventRow] = []
        for item in items:
            rows.append(self.row(item))
            if len(rows) >= self.batch_size:
                yield rows
                rows = []
        if rows:
            yield rows

    def _insert_all(self, queue: Queue[list[EventRow] | None]) -> None:
        recorder: Any = self.ledger.recorder
        sqlite = recorder.store.name == "sqlite"
        while True:
            with recorder.transaction(commit=True) as session:
                if sqlite:
                    session.execute(text(f"PRAGMA cache_size = -{self.sqlite_cache_kib}"))
                pending = 0
                while pending < self.commit_every:
                    batch = queue.get()
                    if batch is None:
                        return
                    self.appended(recorder.append_rows(session, batch))
                    pending += len(batch)


def _hand_over(
    queue: Queue[list[EventRow] | None], item: list[EventRow] | None, writer: Future[None]
) -> None:
    """Put ``item`` on the queue unless the writer thread has stopped (then raise its error)."""
    while True:
        try:
            queue.put(item, timeout=0.1)
            return
        except Full:
            if writer.done():
                writer.result()  # raises what stopped it
                raise RuntimeError("the bulk writer thread stopped") from None
