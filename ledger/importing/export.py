"""Export of every current record, with its provenance, as HXL-tagged CSV.

The file is what ``import`` reads back: each row carries the record's id (and import
key), so importing it into a fresh ledger gives the same records under the same ids,
and each location's p-code chain with names, so unknown locations are registered.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO
from uuid import UUID

from ledger.application import Ledger
from ledger.importing.planning import load_records, recorded_pages
from ledger.locations import LocationIndex
from ledger.records import FigureRecord

COLUMNS = (
    ("record_id", "#meta+id"),
    ("import_key", "#meta+key"),
    ("version", "#meta+version"),
    ("kind", "#indicator+kind"),
    ("country_code", "#country+code"),
    ("country_name", "#country+name"),
    ("adm1_code", "#adm1+code"),
    ("adm1_name", "#adm1+name"),
    ("adm2_code", "#adm2+code"),
    ("adm2_name", "#adm2+name"),
    ("adm3_code", "#adm3+code"),
    ("adm3_name", "#adm3+name"),
    ("admin_level", "#adm+level"),
    ("date", "#date+reported"),
    ("individuals", "#affected+idps+ind"),
    ("households", "#affected+idps+hh"),
    ("source", "#meta+source"),
    ("report", "#meta+report"),
    ("round", "#round+code"),
    ("source_url", "#meta+url"),
    ("published_on", "#date+published"),
    ("origin", "#loc+code+origin"),
    ("cause", "#cause+type"),
    ("note", "#meta+note"),
    ("actor", "#meta+actor"),
)
_CHAIN = ("country", "adm1", "adm2", "adm3")


def current_records(ledger: Ledger, page: int = 1000) -> Iterator[FigureRecord]:
    """Every record that is not retracted, in the order they were first recorded."""
    for notifications in recorded_pages(ledger, page):
        ids: list[UUID] = [n.originator_id for n in notifications]  # type: ignore[misc]
        records = load_records(ledger, ids)
        for rid in ids:
            record = records.get(rid)
            if record is not None and record.retracted is None:
                yield record


def _row(record: FigureRecord, index: LocationIndex) -> list[str]:
    values: dict[str, str] = {
        "record_id": str(record.id),
        "import_key": record.import_key or "",
        "version": str(record.version),
        "kind": record.kind,
        "date": str(record.figure_date),
        "individuals": str(record.individuals),
        "households": "" if record.households is None else str(record.households),
        "source": record.source.get("publisher", ""),
        "report": record.source.get("report", ""),
        "round": record.source.get("round", ""),
        "source_url": record.source.get("url", ""),
        "published_on": record.source.get("published_on", ""),
        "origin": record.origin or "",
        "cause": record.cause or "",
        "note": record.note or "",
        "actor": record.actor,
    }
    for pcode in [record.pcode, *index.ancestors(record.pcode)]:
        loc = index.get(pcode)
        values[f"{_CHAIN[loc.level]}_code"] = loc.pcode
        values[f"{_CHAIN[loc.level]}_name"] = loc.name
    values["admin_level"] = str(index.get(record.pcode).level)
    return [values.get(name, "") for name, _ in COLUMNS]


def export_records(ledger: Ledger, out: IO[str]) -> int:
    """Write the HXL CSV to ``out``; returns the number of records written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in COLUMNS])
    writer.writerow([tag for _, tag in COLUMNS])
    index = ledger.locations()
    count = 0
    for record in current_records(ledger):
        writer.writerow(_row(record, index))
        count += 1
    return count
