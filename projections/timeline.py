"""Figures across time: series of period ends, comparisons, and what revisions changed."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ledger.errors import InvalidInput
from ledger.locations import Location
from projections.totals import Line, Totals, location_json

EVERY = ("month", "quarter", "year")


def period_ends(start: date, end: date, every: str) -> list[date]:
    """The last day of each month/quarter/year that falls within [start, end]."""
    if every not in EVERY:
        raise InvalidInput(f"--every {every!r} is not one of {', '.join(EVERY)}")
    if end < start:
        raise InvalidInput(f"--to {end} is before --from {start}")
    step = {"month": 1, "quarter": 3, "year": 12}[every]
    year, month = start.year, start.month
    if every == "quarter":
        month = ((month - 1) // 3) * 3 + 3
    elif every == "year":
        month = 12
    out: list[date] = []
    while True:
        day = date(year, month, calendar.monthrange(year, month)[1])
        if day > end:
            return out
        if day >= start:
            out.append(day)
        month += step
        while month > 12:
            month -= 12
            year += 1


@dataclass(frozen=True)
class Series:
    every: str
    known_at: datetime
    points: tuple[Totals, ...]

    @property
    def location(self) -> Location | None:
        return self.points[0].location if self.points else None

    def to_json(self) -> dict[str, Any]:
        return {
            "every": self.every,
            "known_at": self.known_at.isoformat() if self.points else None,
            "location": location_json(self.location) if self.location else None,
            "points": [
                {k: v for k, v in p.to_json().items() if k not in ("known_at", "location")}
                for p in self.points
            ],
        }


@dataclass(frozen=True)
class Side:
    """One side of a comparison: totals computed now, or a snapshot's as it was frozen
    (``kept``: its result exactly as stored)."""

    totals: Totals
    snapshot: str | None = None
    kept: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        if self.snapshot is not None:
            return f"{self.snapshot} ({self.totals.as_of.isoformat()})"
        return self.totals.as_of.isoformat()

    def to_json(self) -> dict[str, Any]:
        if self.kept is not None:
            return dict(self.kept, snapshot=self.snapshot)
        return self.totals.to_json()


@dataclass(frozen=True)
class ComparedRow:
    pcode: str | None
    name: str
    a: int
    b: int

    @property
    def change(self) -> int:
        return self.b - self.a

    def to_json(self) -> dict[str, Any]:
        return {"pcode": self.pcode, "name": self.name, "a": self.a, "b": self.b,
                "change": self.change}  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    a: Side
    b: Side

    @property
    def rows(self) -> tuple[ComparedRow, ...]:
        """Row by row, lined up on the location (rows without figures on either side left
        out), the reconciliation line included."""
        rows_a = _rows_by_key(self.a.totals)
        rows_b = _rows_by_key(self.b.totals)
        out = []
        for key in dict.fromkeys([*rows_a, *rows_b]):
            ia = rows_a[key].individuals if key in rows_a else 0
            ib = rows_b[key].individuals if key in rows_b else 0
            if ia == ib == 0 and key[0] is not None:
                continue
            out.append(ComparedRow(key[0], key[1], ia, ib))
        return tuple(out)

    @property
    def change_individuals(self) -> int:
        return self.b.totals.total.individuals - self.a.totals.total.individuals

    @property
    def change_households(self) -> int | None:
        ha, hb = self.a.totals.total.households, self.b.totals.total.households
        return None if ha is None or hb is None else hb - ha

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "change": {
                "individuals": self.change_individuals,
                "households": self.change_households,
            },
            "rows": [r.to_json() for r in self.rows],
        }


def _rows_by_key(totals: Totals) -> dict[tuple[str | None, str], Line]:
    return {(r.pcode, r.name): r for r in totals.rows or ()}


@dataclass(frozen=True)
class RevisionEvent:
    """One record version recorded in the window."""

    record_id: str
    version: int
    action: str
    kind: str
    pcode: str
    date: str
    individuals: int
    households: int | None
    changes: tuple[dict[str, Any], ...]
    reason: str | None
    actor: str
    recorded_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id, "version": self.version, "action": self.action,
            "kind": self.kind, "pcode": self.pcode, "date": self.date,
            "individuals": self.individuals, "households": self.households,
            "changes": list(self.changes), "reason": self.reason, "actor": self.actor,
            "recorded_at": self.recorded_at,
        }  # fmt: skip


@dataclass(frozen=True)
class RevisedFigure:
    """A figure that what was recorded in the window changed."""

    pcode: str
    name: str
    as_of: date
    old_individuals: int
    old_households: int | None
    new_individuals: int
    new_households: int | None
    caused_by: tuple[str, ...]

    @property
    def change(self) -> int:
        return self.new_individuals - self.old_individuals

    def to_json(self) -> dict[str, Any]:
        return {
            "pcode": self.pcode,
            "name": self.name,
            "as_of": self.as_of.isoformat(),
            "old": {"individuals": self.old_individuals, "households": self.old_households},
            "new": {"individuals": self.new_individuals, "households": self.new_households},
            "change": self.change,
            "caused_by": list(self.caused_by),
        }


@dataclass(frozen=True)
class Revisions:
    since: datetime
    until: datetime
    events: tuple[RevisionEvent, ...]
    figures: tuple[RevisedFigure, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "events": [e.to_json() for e in self.events],
            "figures": [f.to_json() for f in self.figures],
        }
