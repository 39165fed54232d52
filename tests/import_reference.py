"""The import's reference write path: every write through the ``FigureRecord`` aggregate.

``ledger.importing.saving.BulkSaver`` builds the events directly; this saver does what the
straightforward code would (each new record a ``FigureRecord`` made from a re-validated
``NewFigure``, each amendment the aggregate's own command, saved with ``Ledger.save``), so
tests/test_import_paths.py can check the two write the same events.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import IntegrityError
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from ledger.application import Ledger
from ledger.errors import ConcurrentChange
from ledger.importing.staging import Stock
from ledger.inputs import Correction, NewFigure, validated
from ledger.records import FigureRecord


class AggregateSaver:
    """The reference path: every write through the ``FigureRecord`` aggregate."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.aggregates: list[FigureRecord] = []
        self.first_id: int | None = None

    def new(self, record_id: UUID, stock: Stock) -> None:
        figure = validated(
            NewFigure,
            **{
                **stock.figure,
                "individuals": stock.individuals,
                "households": stock.households,
                "breakdowns": stock.breakdowns,
            },
        )
        self.aggregates.append(
            FigureRecord.from_input(figure, self.ledger.actor, record_id, stock.import_key)
        )

    def correct(self, record: FigureRecord, correction: Correction) -> None:
        record.correct(correction, self.ledger.actor)
        self.aggregates.append(record)

    def retract(self, record: FigureRecord, reason: str, citation: str) -> None:
        record.retract(reason, self.ledger.actor, citation=citation)
        self.aggregates.append(record)

    def flush(self) -> None:
        if not self.aggregates:
            return
        try:
            recordings = self.ledger.save(*self.aggregates)
        except (IntegrityError, SQLIntegrityError):
            raise ConcurrentChange(self.aggregates[0].id) from None
        if self.first_id is None and recordings:
            self.first_id = min(r.notification.id for r in recordings)
        self.aggregates = []
