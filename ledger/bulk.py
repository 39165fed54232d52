"""A bulk write path: figure-record events built directly, inserted in large batches.

``Ledger.record`` builds one aggregate per figure (about 50,000 per second on this kind
of machine before any I/O). A bulk writer skips the aggregate: it builds the very events
the aggregate would have triggered (same classes, so the same topics and, through the
application's mapper, the same state encoding, compression and cipher) and hands them to
the recorder in batches, so each batch is one transaction through
``LedgerRecorder._insert_stored_events`` (one ``executemany``, the table lock, the
``after_insert`` hook). The events stay ordinary eventsourcing events:
``ledger.repository.get(record_id)`` rebuilds the same aggregate from them.

The caller is trusted: values must already be validated (``ledger.inputs.NewFigure``
and ``Correction`` do that) and every amendment must name the record's next version.
A version that already exists makes the batch fail whole (the store's unique key), so
nothing is ever overwritten. Memory is bounded by the batch size.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, StoredEvent
from eventsourcing.utils import get_topic
from sqlalchemy import text

from ledger.application import Ledger
from ledger.dates import utc_now
from ledger.records import FigureRecord

BATCH_SIZE = 25_000
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
    written: int = field(default=0, init=False)
    first_id: int | None = field(default=None, init=False)  # lowest notification id written

    def write(self, items: Iterable[Item], *, atomic: bool = False) -> int:
        """Write every item; returns how many events were written.

        Batches commit one by one (memory stays bounded) while a writer thread inserts
        batch *n* as this thread encodes batch *n + 1*; with ``atomic`` every batch joins
        one transaction instead (all or nothing, in this thread). The cyclic garbage
        collector's automatic runs are paused (over the batch's young objects they cost a
        third of the time); one collection per batch frees what the database sessions
        leave in cycles, so memory stays bounded however many items come.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            if atomic:
                with self.ledger.recorder.transaction(commit=True):  # type: ignore[attr-defined]
                    for batch in self._batches(items):
                        self._flush(batch)
                        gc.collect(1)
            else:
                with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk") as pool:
                    inserting: Future[None] | None = None
                    for batch in self._batches(items):
                        if inserting is not None:
                            inserting.result()
                            gc.collect(1)
                        inserting = pool.submit(self._flush, batch)
                    if inserting is not None:
                        inserting.result()
        finally:
            if collecting:
                gc.enable()
        return self.written

    def _batches(self, items: Iterable[Item]) -> Iterator[list[StoredEvent]]:
        batch: list[StoredEvent] = []
        to_stored = self._encoder()
        for item in items:
            batch.append(to_stored(item))
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

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
        mapper = self.ledger.mapper
        if (
            type(mapper.transcoder) is JSONTranscoder
            and not mapper.compressor
            and not (mapper.cipher)
        ):
            return self.stored
        return lambda item: mapper.to_stored_event(self.event(item))

    def stored(self, item: Item) -> StoredEvent:
        """The stored event, byte for byte what the mapper makes of ``self.event(item)``."""
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
        return StoredEvent(
            originator_id=item.record_id,
            originator_version=version,
            topic=topic,
            state=_ENCODE(state),
        )

    def _flush(self, batch: list[StoredEvent]) -> None:
        recorder: Any = self.ledger.recorder
        with recorder.transaction(commit=True) as session:
            if self.sqlite_cache_kib and session.get_bind().dialect.name == "sqlite":
                # the unique index on (random) record ids outgrows SQLite's default 2 MB
                # page cache near a million events; then each insert waits on a page read
                session.execute(text(f"PRAGMA cache_size = -{self.sqlite_cache_kib}"))
            ids = recorder.insert_events(batch)
        if ids and self.first_id is None:
            self.first_id = min(ids)
        self.written += len(batch)
