"""Reading a ledger opened through the write side, as the read commands do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.utils import get_topic

from ledger.application import Ledger
from ledger.records import FigureRecord, RecordVersion, versions_from_events
from projections.catchup import Projection
from projections.explain import Explanation
from projections.service import ReadService, open_projection
from projections.totals import Moment, Totals
from tests.chain_tampering import target_of

RECORDED = get_topic(FigureRecord.Recorded)


@contextmanager
def service(ledger: Ledger) -> Iterator[ReadService]:
    """A read service on the ledger's database (caught up when opened)."""
    opened = ReadService.open(target_of(ledger))
    try:
        yield opened
    finally:
        opened.close()


def totals(
    ledger: Ledger, moment: Moment, location: str | None = None, by: str | None = None
) -> tuple[Totals, ...]:
    with service(ledger) as reader:
        return reader.totals(moment, location, by).countries


def explain(ledger: Ledger, moment: Moment, location: str) -> Explanation:
    with service(ledger) as reader:
        return reader.explain(moment, location)


@contextmanager
def projection_of(ledger: Ledger) -> Iterator[Projection]:
    """The ledger's read models, tables ensured, not caught up."""
    opened = open_projection(target_of(ledger))
    try:
        yield opened
    finally:
        opened.conn.close()


def current_records(ledger: Ledger) -> list[FigureRecord]:
    """Every record that is not retracted, in the order first recorded, replayed by the
    write side's repository (independent of the read models)."""
    ids = [
        n.originator_id
        for n in ledger.recorder.select_notifications(start=None, limit=10**9, topics=[RECORDED])
    ]
    found = [ledger.get_record(i) for i in ids]
    return [r for r in found if r.retracted is None]


def versions_of(ledger: Ledger, record_id: object) -> list[RecordVersion]:
    """Every version of a record, replayed from its events by the domain (not the read
    models): what the log holds, checked independently of the projections."""
    from uuid import UUID

    events = list(ledger.events.get(UUID(str(record_id))))
    return versions_from_events(events)
