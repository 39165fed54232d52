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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.application import Ledger
from ledger.dates import utc_now
from ledger.records import FigureRecord

BATCH_SIZE = 10_000
_RECORD_TOPIC = get_topic(FigureRecord)


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
    written: int = field(default=0, init=False)

    def write(self, items: Iterable[Item]) -> int:
        """Write every item; returns how many events were written."""
        batch: list[StoredEvent] = []
        to_stored = self.ledger.mapper.to_stored_event
        for item in items:
            batch.append(to_stored(self.event(item)))
            if len(batch) >= self.batch_size:
                self._flush(batch)
                batch = []
        if batch:
            self._flush(batch)
        return self.written

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

    def _flush(self, batch: list[StoredEvent]) -> None:
        self.ledger.recorder.insert_events(batch)
        self.written += len(batch)
