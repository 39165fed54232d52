"""A bulk write path: figure-record events built directly, inserted in large batches.

``Ledger.record`` builds one aggregate per figure (about 50,000 per second on this kind
of machine before any I/O). A bulk writer skips the aggregate: it builds the very events
the aggregate would have triggered (same classes, so the same topics and, through the
application's mapper, the same state encoding, compression and cipher) and hands them to
the recorder in batches: on SQLite one set-based INSERT per batch
(``LedgerRecorder.insert_rows``, ``ledger.packing``), elsewhere
``LedgerRecorder._insert_stored_events`` (one ``COPY``); either way under the table
lock and with the hash chain's links in the same transaction. The events stay ordinary
eventsourcing events: ``ledger.repository.get(record_id)`` rebuilds the same aggregate
from them.

On SQLite the chain's link hashes are computed on the encoding thread, ahead of the
insert, against the head as it was read when the write began; the insert uses them only
if that is still the head (another writer in between: they are computed again there, and
planning stops for the rest of the write).

The caller is trusted: values must already be validated (``ledger.inputs.NewFigure``
and ``Correction`` do that) and every amendment must name the record's next version.
A version that already exists makes the batch fail whole (the store's unique key), so
nothing is ever overwritten. Memory is bounded by the batch size.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from queue import Full, Queue
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, StoredEvent
from eventsourcing.utils import get_topic
from sqlalchemy import text

from ledger.application import Ledger
from ledger.dates import utc_now
from ledger.integrity.links import ChainHead, PlannedLinks, link_hashes, read_head
from ledger.packing import EventRow, PackedRows, pack
from ledger.persistence import id_bytes
from ledger.records import FigureRecord

BATCH_SIZE = 25_000
COMMIT_EVERY = 100_000
SQLITE_CACHE_KIB = 256 * 1024
_RECORD_TOPIC = get_topic(FigureRecord)
_TOPICS = {
    "recorded": get_topic(FigureRecord.Recorded),
    "corrected": get_topic(FigureRecord.Corrected),
    "retracted": get_topic(FigureRecord.Retracted),
}


def _json_encoder() -> Callable[[Any], bytes]:
    """What the library's JSONTranscoder writes (compact, UTF-8, key order kept), without
    its ``default`` hook: the state built below holds only JSON types, the timestamp
    already in its transcoded form. msgspec, when installed, writes the same bytes about
    four times faster (tests/test_speed_equivalence.py compares them with the mapper)."""
    try:
        import msgspec
    except ImportError:  # pragma: no cover - msgspec is in the dev extra
        encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        return lambda state: encode(state).encode("utf8")
    encoder: Callable[[Any], bytes] = msgspec.json.Encoder().encode
    return encoder


_ENCODE = _json_encoder()


@dataclass(frozen=True)
class NewRecord:
    """Version 1 of a figure record (fields as ``FigureRecord.Recorded`` holds them)."""

    record_id: UUID
    kind: str
    pcode: str
    date: str  # ISO day the figure stands for
    precision: str
    individuals: int
    households: int | None
    source: dict[str, Any]
    origin: str | None = None
    cause: str | None = None
    note: str | None = None
    import_key: str | None = None


@dataclass(frozen=True)
class Amendment:
    """A correction (``changes`` given) or a retraction (``changes`` None) of a record,
    as its version ``version`` (the record's current version + 1)."""

    record_id: UUID
    version: int
    reason: str
    changes: dict[str, Any] | None = None
    citation: str | None = None


Item = NewRecord | Amendment


@dataclass
class BulkWriter:
    """Write figure-record events in batches; ``clock`` gives each event's timestamp
    (the ledger's clock; benchmarks replaying a synthetic history pass their own)."""

    ledger: Ledger
    actor: str
    batch_size: int = BATCH_SIZE
    clock: Callable[[], datetime] = utc_now
    # SQLite page cache for the writes (None: as the connection has it). A large cache
    # pays from about a million events; it is also that much more resident memory.
    sqlite_cache_kib: int | None = SQLITE_CACHE_KIB
    commit_every: int = COMMIT_EVERY
    written: int = field(default=0, init=False)
    first_id: int | None = field(default=None, init=False)  # lowest notification id written
    _stale: bool = field(default=False, init=False, repr=False)

    def write(self, items: Iterable[Item], *, atomic: bool = False) -> int:
        """Write every item; returns how many events were written.

        A writer thread inserts batch *n* while this thread encodes batch *n + 1*, and
        commits every ``commit_every`` events (memory stays bounded by the batch size:
        the database spills what its cache cannot hold); with ``atomic`` every batch
        joins one transaction instead (all or nothing, in this thread). The cyclic
        garbage collector's automatic runs are paused (over the batch's young objects
        they cost a third of the time); one collection per batch frees what the database
        sessions leave in cycles, so memory stays bounded however many items come.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            if atomic:
                with self.ledger.recorder.transaction(commit=True):  # type: ignore[attr-defined]
                    for batch in self._batches(items, plan=False):
                        self._flush(batch)
                        gc.collect(1)
            else:
                self._pipelined(self._batches(items, plan=True))
        finally:
            if collecting:
                gc.enable()
        return self.written

    def _pipelined(self, batches: Iterator[Batch]) -> None:
        queue: Queue[Batch | None] = Queue(maxsize=1)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk") as pool:
            inserting = pool.submit(self._insert_all, queue)
            try:
                for batch in batches:
                    _hand_over(queue, batch, inserting)
                    gc.collect(1)
            finally:
                if not inserting.done():  # what was handed over commits; then it stops
                    _hand_over(queue, None, inserting)
            inserting.result()

    def _insert_all(self, queue: Queue[Batch | None]) -> None:
        """The writer thread: batches from ``queue`` until None, one commit per
        ``commit_every`` events (fewer commits: with random record ids each commit
        writes most of the id index's pages again)."""
        recorder: Any = self.ledger.recorder
        while True:
            with recorder.transaction(commit=True):
                pending = 0
                while pending < self.commit_every:
                    batch = queue.get()
                    if batch is None:
                        return
                    pending += self._flush(batch)

    def _batches(self, items: Iterable[Item], *, plan: bool) -> Iterator[Batch]:
        if not self._sqlite():
            events: list[StoredEvent] = []
            to_stored = self._encoder()
            for item in items:
                events.append(to_stored(item))
                if len(events) >= self.batch_size:
                    yield events
                    events = []
            if events:
                yield events
            return
        # SQLite: rows packed for the set-based insert, and (when another thread inserts)
        # the chain's link hashes computed here, ahead, against the head read now
        self._stale = False
        head = self._head() if plan else None
        rows: list[EventRow] = []
        to_row = self._row_encoder()
        for item in items:
            rows.append(to_row(item))
            if len(rows) >= self.batch_size:
                batch, head = self._prepared(rows, head)
                yield batch
                rows = []
        if rows:
            yield self._prepared(rows, head)[0]

    def _prepared(
        self, rows: list[EventRow], head: ChainHead | None
    ) -> tuple[Prepared, ChainHead | None]:
        if head is None or self._stale:
            return Prepared(pack(rows), None), None
        planned = PlannedLinks(head, link_hashes(head.position, head.hash, head.next_id, rows))
        return Prepared(pack(rows), planned), planned.end

    def _head(self) -> ChainHead:
        recorder: Any = self.ledger.recorder
        with recorder.transaction(commit=False) as session:
            position, previous = read_head(session, recorder.chain_table)
            last = (
                session.connection()
                .exec_driver_sql(f"SELECT max(id) FROM {recorder.events_table_name}")
                .scalar()
            )
        return ChainHead(position, previous, int(last or 0) + 1)

    def _sqlite(self) -> bool:
        engine = self.ledger.recorder.datastore.engine  # type: ignore[attr-defined]
        return bool(engine.dialect.name == "sqlite")

    def event(self, item: Item) -> DomainEventProtocol[UUID]:
        """The event ``FigureRecord`` would have triggered for this item."""
        at = self.clock()
        if isinstance(item, NewRecord):
            return FigureRecord.Recorded(  # type: ignore[call-arg]
                originator_id=item.record_id,
                originator_version=1,
                timestamp=at,
                originator_topic=_RECORD_TOPIC,
                kind=item.kind,
                pcode=item.pcode,
                date=item.date,
                precision=item.precision,
                individuals=item.individuals,
                households=item.households,
                source=item.source,
                origin=item.origin,
                cause=item.cause,
                note=item.note,
                actor=self.actor,
                import_key=item.import_key,
            )
        if item.changes is None:
            return FigureRecord.Retracted(  # type: ignore[call-arg]
                originator_id=item.record_id,
                originator_version=item.version,
                timestamp=at,
                reason=item.reason,
                actor=self.actor,
                citation=item.citation,
            )
        return FigureRecord.Corrected(  # type: ignore[call-arg]
            originator_id=item.record_id,
            originator_version=item.version,
            timestamp=at,
            changes=item.changes,
            reason=item.reason,
            actor=self.actor,
            citation=item.citation,
        )

    def _encoder(self) -> Callable[[Item], StoredEvent]:
        """The state encoded straight to JSON when the application stores plain JSON
        (no compressor, no cipher); otherwise through the application's mapper."""
        if self._plain_json():
            return self.stored
        mapper = self.ledger.mapper
        return lambda item: mapper.to_stored_event(self.event(item))

    def _row_encoder(self) -> Callable[[Item], EventRow]:
        """As ``_encoder``, to the rows SQLite stores."""
        if self._plain_json():
            return self.row
        mapper = self.ledger.mapper

        def row(item: Item) -> EventRow:
            e = mapper.to_stored_event(self.event(item))
            return (id_bytes(e.originator_id), e.originator_version, e.topic, e.state)

        return row

    def _plain_json(self) -> bool:
        mapper = self.ledger.mapper
        return (
            type(mapper.transcoder) is JSONTranscoder
            and not mapper.compressor
            and not mapper.cipher
        )

    def stored(self, item: Item) -> StoredEvent:
        """The stored event, byte for byte what the mapper makes of ``self.event(item)``."""
        _, version, topic, state = self.row(item)
        return StoredEvent(
            originator_id=item.record_id, originator_version=version, topic=topic, state=state
        )

    def row(self, item: Item) -> EventRow:
        """``stored(item)`` as SQLite stores it: (record id bytes, version, topic, state)."""
        stamp = {"_type_": "datetime_iso", "_data_": self.clock().isoformat()}
        state: dict[str, Any]
        if isinstance(item, NewRecord):
            topic = _TOPICS["recorded"]
            state = {
                "timestamp": stamp,
                "originator_topic": _RECORD_TOPIC,
                "kind": item.kind,
                "pcode": item.pcode,
                "date": item.date,
                "precision": item.precision,
                "individuals": item.individuals,
                "households": item.households,
                "source": item.source,
                "origin": item.origin,
                "cause": item.cause,
                "note": item.note,
                "actor": self.actor,
                "import_key": item.import_key,
            }
            version = 1
        else:
            state = {"timestamp": stamp}
            if item.changes is None:
                topic = _TOPICS["retracted"]
            else:
                topic = _TOPICS["corrected"]
                state["changes"] = item.changes
            state.update(reason=item.reason, actor=self.actor, citation=item.citation)
            version = item.version
        return (item.record_id.bytes, version, topic, _ENCODE(state))

    def _flush(self, batch: Batch) -> int:
        recorder: Any = self.ledger.recorder
        with recorder.transaction(commit=True) as session:
            if isinstance(batch, Prepared):
                if self.sqlite_cache_kib:
                    # the unique index on (random) record ids outgrows SQLite's default
                    # 2 MB page cache near a million events; then each insert waits on a
                    # page read
                    session.execute(text(f"PRAGMA cache_size = -{self.sqlite_cache_kib}"))
                ids: Sequence[int] = recorder.insert_rows(session, batch.packed, batch.planned)
                if batch.planned is not None and ids[0] != batch.planned.head.next_id:
                    self._stale = True  # another writer came in between: stop planning
                count = len(batch.packed)
            else:
                ids = recorder.insert_events(batch)
                count = len(batch)
        if ids and self.first_id is None:
            self.first_id = min(ids)
        self.written += count
        return count


@dataclass(frozen=True)
class Prepared:
    """A SQLite batch: its rows packed, with the chain's link hashes when planned."""

    packed: PackedRows
    planned: PlannedLinks | None


Batch = list[StoredEvent] | Prepared


def _hand_over(queue: Queue[Batch | None], batch: Batch | None, consumer: Future[None]) -> None:
    """Put ``batch`` on the queue; if the consumer has stopped (an error), raise its error."""
    while True:
        try:
            queue.put(batch, timeout=0.05)
            return
        except Full:
            if consumer.done():
                consumer.result()
                raise RuntimeError("the bulk writer's insert thread stopped early") from None
