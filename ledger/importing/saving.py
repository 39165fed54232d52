"""Pass 2's writes: the events of new records, corrections and retractions, batch by batch.

``BulkSaver`` builds each figure-record event directly (``ledger.bulk``: the same topics
and byte-identical states the aggregate would produce) and appends each batch through the
recorder, so the hash chain's links go in with it. (tests/import_reference.py keeps the
straightforward path, every write through the ``FigureRecord`` aggregate, which the
import is tested against.)

Both only ever run inside the import's one transaction (``ledger.importing.writing``), so
nothing is committed before the whole file is written. Versions follow the record's
current version read in that transaction; a version that exists already (a concurrent
writer) fails the import as ``ConcurrentChange``, through the store's unique key.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from ledger.application import Ledger
from ledger.bulk import Amendment, BulkWriter, Item, NewRecord
from ledger.dates import FigureDate
from ledger.errors import ConcurrentChange, RecordRetracted
from ledger.importing.staging import Stock
from ledger.inputs import Correction
from ledger.records import FigureRecord


class Saver(Protocol):
    """Collects one batch of writes; ``flush`` stores them. ``first_id`` is the lowest
    notification id it has written (None before anything is written)."""

    first_id: int | None

    def new(self, record_id: UUID, stock: Stock) -> None: ...

    def correct(self, record: FigureRecord, correction: Correction) -> None: ...

    def retract(self, record: FigureRecord, reason: str, citation: str) -> None: ...

    def flush(self) -> None: ...


class BulkSaver:
    """Events built from the staged (already validated) values, inserted in bulk."""

    def __init__(self, ledger: Ledger) -> None:
        self.writer = BulkWriter(ledger, ledger.actor)
        self.items: list[Item] = []
        self.first_id: int | None = None
        self._dates: dict[str, FigureDate] = {}

    def new(self, record_id: UUID, stock: Stock) -> None:
        figure = stock.figure
        date = self._dates.get(figure["date"])
        if date is None:  # the staged text of a validated date
            if len(self._dates) >= 4096:
                self._dates.clear()
            date = self._dates[figure["date"]] = FigureDate.parse(figure["date"])
        self.items.append(
            NewRecord(
                record_id=record_id,
                kind=figure["kind"],
                pcode=figure["pcode"],
                date=date.day.isoformat(),
                precision=date.precision.value,
                individuals=stock.individuals,
                households=stock.households,
                source=figure["source"],
                origin=figure["origin"],
                cause=figure["cause"],
                note=figure["note"],
                import_key=stock.import_key,
                breakdowns=stock.breakdowns,
                role=figure.get("role", "recommended"),
                quantifier=figure.get("quantifier", "exact"),
            )
        )

    def correct(self, record: FigureRecord, correction: Correction) -> None:
        self.items.append(
            Amendment(
                record.id,
                record.version + 1,
                correction.reason,
                changes=record.changes_for(correction),
                citation=correction.citation,
            )
        )

    def retract(self, record: FigureRecord, reason: str, citation: str) -> None:
        if record.retracted is not None:  # the aggregate's guard
            raise RecordRetracted(record.id)
        self.items.append(Amendment(record.id, record.version + 1, reason, citation=citation))

    def flush(self) -> None:
        if not self.items:
            return
        try:
            self.writer.write(self.items)
        except (IntegrityError, SQLIntegrityError):
            raise ConcurrentChange(self.items[0].record_id) from None
        if self.first_id is None:
            self.first_id = self.writer.first_id
        self.items = []
