"""Pass 2 decisions: for each stock, is it a new record, a correction, or unchanged?

Existing records for a whole batch of deterministic ids are read in one query on the
events table (inside the import's transaction when there is one) and replayed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.utils import get_topic
from sqlalchemy import select

from ledger.application import Ledger
from ledger.dates import FigureDate
from ledger.errors import NothingToChange
from ledger.importing.identity import record_id_for, scope_from_key
from ledger.importing.staging import StagingArea, Stock
from ledger.inputs import Correction
from ledger.records import FigureRecord

RECORDED_TOPIC = get_topic(FigureRecord.Recorded)


@dataclass(frozen=True)
class Planned:
    """One thing an import does (or, with --dry-run, would do) to one record."""

    action: str  # new | correct | unchanged | retracted-earlier | superseded | missing | retract
    record_id: UUID
    kind: str
    pcode: str
    date: str
    individuals: int
    households: int | None
    rows: str
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "record_id": str(self.record_id),
            "kind": self.kind,
            "location": self.pcode,
            "date": self.date,
            "individuals": self.individuals,
            "households": self.households,
            "rows": self.rows,
            "changes": {k: {"old": o, "new": n} for k, (o, n) in self.changes.items()},
        }

    def __str__(self) -> str:
        what = f"{self.kind} {self.pcode} {self.date} {self.individuals}"
        if self.changes:
            what += " (" + ", ".join(f"{k} {o} → {n}" for k, (o, n) in self.changes.items()) + ")"
        return f"{self.action:<17} {self.record_id} {what} [{self.rows}]"


def stock_id(stock: Stock) -> UUID:
    if stock.record_id is not None:
        return stock.record_id
    if stock.import_key is None:  # pragma: no cover - staging always sets one or the other
        raise ValueError("a stock without an id or an import key")
    return record_id_for(stock.import_key)


def load_records(ledger: Ledger, ids: list[UUID]) -> dict[UUID, FigureRecord]:
    """The current state of those of ``ids`` that exist, read with one query."""
    if not ids:
        return {}
    table = ledger.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    query = (
        select(table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state)
        .where(table.c.originator_id.in_(ids))
        .order_by(table.c.originator_id, table.c.originator_version)
    )
    with ledger.recorder.transaction(commit=False) as session:  # type: ignore[attr-defined]
        rows = session.execute(query).all()
    records: dict[UUID, Any] = {}
    for row in rows:
        event = ledger.mapper.to_domain_event(StoredEvent(*row))
        records[row[0]] = event.mutate(records.get(row[0]))  # type: ignore[attr-defined]
    return {k: v for k, v in records.items() if isinstance(v, FigureRecord)}


def decide(
    stock: Stock,
    record_id: UUID,
    existing: FigureRecord | None,
    file_name: str,
    carried: tuple[str, ...] = (),
) -> tuple[Planned, Correction | None]:
    """What the stock does to the ledger: a new record (no existing one), a correction of
    the existing record (returned), or nothing. The stock's values were validated row by
    row in pass 1; sums of valid parts are valid (households cannot outgrow individuals)."""
    figure = stock.figure
    base = Planned(
        "new",
        record_id,
        figure["kind"],
        figure["pcode"],
        figure["date"],
        stock.individuals,
        stock.households,
        stock.rows_text,
    )
    if existing is None:
        return base, None
    if existing.retracted is not None:
        return replace(base, action="retracted-earlier"), None
    correction = Correction(
        individuals=stock.individuals,
        households=stock.households,
        households_unknown=stock.households is None,
        date=FigureDate.parse(figure["date"]),
        pcode=figure["pcode"],
        breakdowns={d: (stock.breakdowns or {}).get(d, {}) for d in carried} or None,
        quantifier=figure.get("quantifier"),
        reason=f"revised by {file_name}, {stock.rows_text}",
        citation=f"{file_name} {stock.rows_text}",
    )
    try:
        changes = existing.changes_for(correction)
    except NothingToChange:
        return replace(base, action="unchanged"), None
    old = {k: getattr(existing, k) for k in changes}
    return replace(
        base, action="correct", changes={k: (old[k], v) for k, v in changes.items()}
    ), correction


def recorded_pages(
    ledger: Ledger, page: int = 1000, *, before: int | None = None
) -> Iterator[Sequence[Notification]]:
    """Every figure record's first event (with ``before``: those whose notification id is
    lower), in pages, in the order they were recorded."""
    start: int | None = None
    stop = None if before is None else before - 1
    while True:
        notifications = ledger.recorder.select_notifications(
            start, page, stop, topics=[RECORDED_TOPIC], inclusive_of_start=start is None
        )
        if not notifications:
            return
        yield notifications
        start = notifications[-1].id


def missing_records(
    ledger: Ledger,
    scopes: set[str],
    staging: StagingArea,
    page: int = 1000,
    *,
    before: int | None = None,
) -> Iterator[FigureRecord]:
    """Current records imported earlier from one of ``scopes`` that this file no longer has.

    ``before``: the first notification id this import wrote. Every record at or after it
    is one of the file's own (the import's transaction holds the table's write lock from
    its first insert to its commit, so no other writer's event can follow it), so the
    scan stops there instead of decoding them all again."""
    for notifications in recorded_pages(ledger, page, before=before):
        candidates: list[str] = []
        for notification in notifications:
            event = ledger.mapper.to_domain_event(notification)
            key = getattr(event, "import_key", None)
            if key and scope_from_key(key) in scopes:
                candidates.append(str(event.originator_id))
        if candidates:
            unseen = sorted(staging.unseen(candidates))
            for record in load_records(ledger, [UUID(i) for i in unseen]).values():
                if record.retracted is None:
                    yield record
