"""The bulk write path: figure-record events built directly and appended in batches.

``Ledger.record`` builds one aggregate per figure. An import writes hundreds of thousands
of them: ``BulkWriter`` skips the aggregate and builds the very events it would have
triggered — the same topics and, byte for byte, the same JSON states as the library's
mapper writes (tests/test_fields.py and tests/test_speed_equivalence.py compare them) —
straight from ``ledger.fields``, and appends them through the recorder
(``LedgerRecorder.append_rows``), so the hash chain's links go in with them. The events
stay ordinary eventsourcing events: ``ledger.repository.get(record_id)`` rebuilds the
same aggregate from them.

The caller is trusted: values must already be validated (``ledger.inputs.NewFigure`` and
``Correction`` do that) and every amendment must name the record's next version. A
version that already exists makes the write fail whole (the store's unique key), so
nothing is ever overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import get_topic

from ledger.application import Ledger
from ledger.backends import EventRow
from ledger.dates import utc_now
from ledger.errors import StorageUnavailable
from ledger.fields import FIGURE_FIELDS
from ledger.records import FigureRecord

BATCH_SIZE = 25_000
RECORD_TOPIC = get_topic(FigureRecord)
TOPICS = {
    "recorded": get_topic(FigureRecord.Recorded),
    "corrected": get_topic(FigureRecord.Corrected),
    "retracted": get_topic(FigureRecord.Retracted),
}
# the library's JSONTranscoder writes compact UTF-8 JSON in the state's key order;
# msgspec writes the same bytes for the JSON types a state holds, about four times faster
_ENCODE: Callable[[Any], bytes] = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class NewRecord:
    """Version 1 of a figure record: ``ledger.fields.FIGURE_FIELDS`` but the actor."""

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
    breakdowns: dict[str, dict[str, int]] | None = None
    role: str = "recommended"
    quantifier: str = "exact"
    conversion: dict[str, Any] | None = None


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


def check_plain_json(ledger: Ledger) -> None:
    """The events are stored as plain JSON (no compressor, no cipher): what the bulk path
    writes and the read models parse."""
    mapper = ledger.mapper
    if type(mapper.transcoder) is not JSONTranscoder or mapper.compressor or mapper.cipher:
        raise StorageUnavailable(
            "this ledger stores events compressed or encrypted, which it does not support"
        )


@dataclass
class BulkWriter:
    """Encode figure-record events and append them; ``clock`` gives each event's timestamp
    (the ledger's clock; benchmarks replaying a synthetic history pass their own)."""

    ledger: Ledger
    actor: str
    batch_size: int = BATCH_SIZE
    clock: Callable[[], datetime] = utc_now
    written: int = field(default=0, init=False)
    first_id: int | None = field(default=None, init=False)  # lowest notification id written

    def __post_init__(self) -> None:
        check_plain_json(self.ledger)

    def write(self, items: Iterable[Item]) -> int:
        """Append every item, in one transaction (the caller's, if one is open); returns
        how many events were written."""
        recorder: Any = self.ledger.recorder
        with recorder.transaction(commit=True) as session:
            rows: list[EventRow] = []
            for item in items:
                rows.append(self.row(item))
                if len(rows) >= self.batch_size:
                    self.appended(recorder.append_rows(session, rows))
                    rows = []
            self.appended(recorder.append_rows(session, rows))
        return self.written

    def appended(self, ids: list[int]) -> None:
        if ids and self.first_id is None:
            self.first_id = ids[0]
        self.written += len(ids)

    def row(self, item: Item) -> EventRow:
        """The event ``FigureRecord`` would have triggered for this item, as stored:
        (record id bytes, version, topic, state)."""
        stamp = {"_type_": "datetime_iso", "_data_": self.clock().isoformat()}
        state: dict[str, Any]
        if isinstance(item, NewRecord):
            state = {"timestamp": stamp, "originator_topic": RECORD_TOPIC}
            for f in FIGURE_FIELDS:  # in the event's field order, as the mapper writes them
                state[f.name] = self.actor if f.name == "actor" else getattr(item, f.name)
            return (item.record_id.bytes, 1, TOPICS["recorded"], _ENCODE(state))
        state = {"timestamp": stamp}
        if item.changes is None:
            topic = TOPICS["retracted"]
        else:
            topic = TOPICS["corrected"]
            state["changes"] = item.changes
        state.update(reason=item.reason, actor=self.actor, citation=item.citation)
        return (item.record_id.bytes, item.version, topic, _ENCODE(state))
