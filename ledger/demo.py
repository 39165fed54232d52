"""The running example (docs/design.md): published Mali figures of late 2017 and early 2018.

The rows live in ``ledger/reference/mli_demo_figures.csv``, each with its real source.
The release behind the 8,164 registrations gives neither a per-region split nor a date,
so the rows that split it carry ``illustrative=yes`` and say so in their note.
46,336 is not recorded: it is derived (38,172 + 8,164), which is what the projections show.
"""

from __future__ import annotations

import csv
from typing import Any
from uuid import UUID, uuid4

from ledger.application import Ledger
from ledger.errors import LedgerError
from ledger.records import FigureRecord
from ledger.reference import reference_path

DEMO_FIGURES = "mli_demo_figures.csv"
RECORDED_TOPIC = f"{FigureRecord.__module__}:{FigureRecord.__qualname__}.Recorded"


def demo_rows() -> list[dict[str, str]]:
    """The demo's figures as they stand in the shipped CSV file."""
    with reference_path(DEMO_FIGURES).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def holds_records(ledger: Ledger) -> bool:
    """Whether any figure record was ever recorded in this store."""
    found = ledger.recorder.select_notifications(start=None, limit=1, topics=[RECORDED_TOPIC])
    return bool(found)


def load_demo(ledger: Ledger) -> list[UUID]:
    """Record the running example in one transaction; returns the record ids in file order.

    The ledger must already know the Mali locations (``dledger init`` registers them) and
    must hold no figure record, so the demo's figures never mix with real ones.
    """
    if holds_records(ledger):
        raise LedgerError("this ledger already holds figure records; the demo needs a fresh one")
    records = []
    for line, row in enumerate(demo_rows(), start=2):
        values: dict[str, Any] = {
            "kind": row["kind"],
            "location": row["location"],
            "date": row["date"],
            "individuals": row["individuals"],
            "households": row["households"] or None,
            "source": {
                "publisher": row["publisher"],
                "report": row["report"],
                "url": row["source_url"],
            },
            "note": row["note"],
        }
        try:
            figure, _ = ledger.validate_figure(**values)
        except LedgerError as error:  # pragma: no cover - the shipped file is tested
            raise LedgerError(f"{DEMO_FIGURES} line {line}: {error}") from None
        records.append(FigureRecord.from_input(figure, ledger.actor, uuid4()))
    ledger.save(*records)
    return [record.id for record in records]
