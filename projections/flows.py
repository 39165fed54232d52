"""Flows in a period: new displacements, registrations and returns, with their sources.

A *new displacement* (IDMC's ``new_displacement``) counts movements, not people: the
figure rule never adds it to a stock, and this is where it is reported. Registrations
and returns are listed beside it, as they move the stocks. A figure is in the period
when the day it stands for (the end of its month or year, for a month or a year figure)
falls in it; a year figure is therefore in any period that holds its 31 December.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.dates import FigureDate, Precision, parse_day, parse_instant, utc_now
from ledger.errors import InvalidInput
from ledger.locations import Location, LocationIndex, level_name, level_number
from projections.schema import DETAILS, VERSIONS, to_micros
from projections.totals import location_json

if TYPE_CHECKING:
    from projections.service import ReadService

FLOW_KINDS = ("new_displacement", "registration", "return")
LEVEL_COLUMNS = {0: "country", 1: "adm1", 2: "adm2"}


@dataclass(frozen=True)
class FlowRecord:
    record_id: str
    version: int
    kind: str
    pcode: str
    name: str
    date: str
    individuals: int
    households: int | None
    cause: str | None
    source: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "version": self.version,
            "kind": self.kind,
            "location": {"pcode": self.pcode, "name": self.name},
            "date": self.date,
            "individuals": self.individuals,
            "households": self.households,
            "cause": self.cause,
            "source": self.source,
        }


@dataclass(frozen=True)
class FlowLine:
    """One location's flows in the period, by kind (``pcode`` None: the whole selection)."""

    pcode: str | None
    name: str
    sums: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"pcode": self.pcode, "name": self.name, **{k: self.sums[k] for k in FLOW_KINDS}}


@dataclass(frozen=True)
class Flows:
    start: date
    end: date
    known_at: datetime
    location: Location | None
    by: str | None
    total: FlowLine
    rows: tuple[FlowLine, ...] | None
    records: tuple[FlowRecord, ...]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "known_at": self.known_at.isoformat(),
            "location": None if self.location is None else location_json(self.location),
            "totals": {k: self.total.sums[k] for k in FLOW_KINDS},
        }
        if self.rows is not None:
            data["by"] = self.by
            data["rows"] = [r.to_json() for r in self.rows]
        data["records"] = [r.to_json() for r in self.records]
        return data


def period_start(text: FigureDate) -> date:
    """The first day a date argument stands for (``2017``: 1 January 2017)."""
    if text.precision is Precision.YEAR:
        return date(text.day.year, 1, 1)
    if text.precision is Precision.MONTH:
        return text.day.replace(day=1)
    return text.day


def flows_query(location: Location | None) -> str:
    """The flow versions current at K (``?`` × 2), dated in [``?``, ``?``], at or below
    the location (``?``) when one is given."""
    where = ""
    if location is not None:
        where = f" AND v.{LEVEL_COLUMNS.get(location.level, 'pcode')} = ?"
    kinds = ", ".join(f"'{k}'" for k in FLOW_KINDS)
    return (
        "SELECT v.record_id, v.version, v.kind, v.pcode, v.day, v.precision, v.individuals, "
        "v.households, v.country, v.adm1, v.adm2, v.cause, d.source "
        f"FROM {VERSIONS.name} AS v JOIN {DETAILS.name} AS d ON d.position = v.position "
        "WHERE v.recorded_at <= ? AND (v.superseded_at IS NULL OR v.superseded_at > ?) "
        f"AND v.retracted = 0 AND v.kind IN ({kinds}) AND v.day >= ? AND v.day <= ?{where} "
        "ORDER BY v.day, v.pcode, v.position"
    )


def flows_of(
    rows: Sequence[Sequence[Any]],
    index: LocationIndex,
    start: date,
    end: date,
    known_at: datetime,
    location: Location | None,
    level: int | None,
) -> Flows:
    records = []
    by_place: dict[str, dict[str, int]] = {}
    total = dict.fromkeys(FLOW_KINDS, 0)
    for row in rows:
        (record_id, version, kind, pcode, day, precision, individuals, households,
         country, adm1, adm2, cause, source) = row  # fmt: skip
        loc = index.get(pcode)
        records.append(
            FlowRecord(
                str(UUID(record_id)),
                int(version),
                kind,
                pcode,
                loc.name,
                str(FigureDate(date.fromordinal(day), Precision(precision))),
                int(individuals),
                households,
                cause,
                json.loads(source),
            )
        )
        total[kind] += int(individuals)
        if level is not None:
            place = (country, adm1, adm2)[level] if level <= 2 else None
            key = place or ""
            by_place.setdefault(key, dict.fromkeys(FLOW_KINDS, 0))[kind] += int(individuals)
    rows_out = None
    if level is not None:
        rows_out = tuple(
            FlowLine(p or None, index.get(p).name if p else "not disaggregated", sums)
            for p, sums in sorted(by_place.items(), key=lambda kv: (kv[0] == "", kv[0]))
        )
    name = "all countries" if location is None else location.name
    return Flows(
        start, end, known_at, location, None if level is None else level_name(level),
        FlowLine(None if location is None else location.pcode, name, total),
        rows_out, tuple(records),
    )  # fmt: skip


def flows(
    service: ReadService,
    start: str,
    end: str,
    known_at: str | None = None,
    location: str | None = None,
    by: str | None = None,
) -> Flows:
    """New displacements, registrations and returns dated in a period (as known at an
    instant), with their sources; ``by``: summed per location at that level."""
    instant = parse_instant(known_at) if known_at else utc_now()
    first = period_start(FigureDate.parse(start, what="--from"))
    last = parse_day(end, what="--to")
    if first > last:
        raise InvalidInput(f"--from {start} is after --to {end}")
    place = service.location(location) if location is not None else None
    level = level_number(by) if by else None
    if level is not None and place is not None and level <= place.level:
        raise InvalidInput(f"--by {by} is not below {place.name} ({place.level_name})")
    k = to_micros(instant)
    params: list[Any] = [k, k, first.toordinal(), last.toordinal()]
    if place is not None:
        params.append(place.pcode)
    with service._reading() as cur:
        rows = service._rows(cur, flows_query(place), params)
    return flows_of(rows, service.index, first, last, instant, place, level)
