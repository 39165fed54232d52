"""Point-in-time totals: a location's figure and, with ``--by``, its breakdown by level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ledger.errors import InvalidInput
from ledger.locations import Location, LocationIndex, level_name, level_number
from projections.figures import Figure, FigureRule

NOT_DISAGGREGATED = "not disaggregated"


@dataclass(frozen=True)
class Moment:
    """The two instants every read answers for: valid time and system time."""

    as_of: date
    known_at: datetime


@dataclass(frozen=True)
class Line:
    """One line of a table of figures: a location's (``pcode`` None: the reconciliation)."""

    pcode: str | None
    name: str
    individuals: int
    households: int | None
    partial: bool
    notes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "pcode": self.pcode,
            "name": self.name,
            "individuals": self.individuals,
            "households": self.households,
            "partial": self.partial,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], pcode: str | None, name: str) -> Line:
        return cls(
            pcode=data.get("pcode", pcode),
            name=data.get("name", name),
            individuals=int(data["individuals"]),
            households=data["households"],
            partial=bool(data["partial"]),
            notes=tuple(data["notes"]),
        )


def location_json(location: Location) -> dict[str, Any]:
    return {"pcode": location.pcode, "name": location.name, "level": location.level_name}


@dataclass(frozen=True)
class Totals:
    """One location's total as of a date, as known at an instant, with its breakdown rows."""

    as_of: date
    known_at: datetime
    position: int
    location: Location
    total: Line
    by: str | None = None
    rows: tuple[Line, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        total = self.total.to_json()
        del total["pcode"], total["name"]
        data: dict[str, Any] = {
            "as_of": self.as_of.isoformat(),
            "known_at": self.known_at.isoformat(),
            "position": self.position,
            "location": location_json(self.location),
            "total": total,
        }
        if self.rows is not None:
            data["by"] = self.by
            data["rows"] = [row.to_json() for row in self.rows]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Totals:
        """A totals object as the JSON contract has it (a kept snapshot's result)."""
        place = data["location"]
        location = Location(place["pcode"], place["name"], level_number(place["level"]), None)
        rows = data.get("rows")
        return cls(
            as_of=date.fromisoformat(data["as_of"]),
            known_at=datetime.fromisoformat(data["known_at"]),
            position=int(data["position"]),
            location=location,
            total=Line.from_json(data["total"], location.pcode, location.name),
            by=data.get("by"),
            rows=None if rows is None else tuple(Line.from_json(r, None, "") for r in rows),
        )


@dataclass(frozen=True)
class TotalsReport:
    """Totals for one location, or for every country (``countries``) when none was named."""

    countries: tuple[Totals, ...]

    def to_json(self) -> dict[str, Any]:
        if len(self.countries) == 1:
            return self.countries[0].to_json()
        first = self.countries[0] if self.countries else None
        return {
            "as_of": first.as_of.isoformat() if first else None,
            "known_at": first.known_at.isoformat() if first else None,
            "countries": [t.to_json() for t in self.countries],
        }


def line_of(figure: Figure, index: LocationIndex, as_of: date) -> Line:
    notes = figure.notes
    if figure.empty:
        notes = (f"no figures on or before {as_of.isoformat()}",)
    return Line(
        pcode=figure.pcode,
        name=index.get(figure.pcode).name,
        individuals=figure.individuals,
        households=figure.households,
        partial=figure.partial,
        notes=notes,
    )


def totals_of(
    rule: FigureRule, moment: Moment, position: int, places: list[Location], level: int | None
) -> tuple[Totals, ...]:
    """Each place's totals (with ``level``, broken down by it), every figure of every place
    asked together."""
    index = rule.index
    targets: dict[str, list[str]] = {}
    for place in places:
        if level is not None:
            if level <= place.level:
                raise InvalidInput(
                    f"--by {level_name(level)} is not below {place.name} ({place.level_name})"
                )
            targets[place.pcode] = [
                p for p in index.descendants(place.pcode) if index.get(p).level == level
            ]
    wanted = [p.pcode for p in places] + [t for ts in targets.values() for t in ts]
    figures = rule.figures(wanted)
    out = []
    for place in places:
        parent = figures[place.pcode]
        rows = None
        if level is not None:
            rows = breakdown(parent, [figures[t] for t in targets[place.pcode]], place, level, rule)
        out.append(
            Totals(
                as_of=moment.as_of,
                known_at=moment.known_at,
                position=position,
                location=place,
                total=line_of(parent, index, moment.as_of),
                by=None if level is None else level_name(level),
                rows=rows,
            )
        )
    return tuple(out)


def breakdown(
    parent: Figure, figures: list[Figure], location: Location, level: int, rule: FigureRule
) -> tuple[Line, ...]:
    """Each location at ``level`` under ``location`` by the rule, plus the line that
    reconciles them with the parent's figure (negative, with a warning, when they exceed it)."""
    lines = [line_of(f, rule.index, rule.as_of) for f in figures]
    rest = parent.individuals - sum(f.individuals for f in figures)
    rest_households = None
    if parent.households is not None and all(
        f.households is not None for f in figures if not f.empty
    ):
        rest_households = parent.households - sum(f.households or 0 for f in figures)
    notes: list[str] = []
    if rest < 0:
        notes.append(
            f"warning: the {level_name(level)} figures add up to {-rest:,} more than "
            f"{location.name}'s figure: the sources disagree"
        )
    elif rest > 0:
        notes.append(f"part of {location.name}'s figure not attributed to any {level_name(level)}")
    lines.append(
        Line(
            pcode=None,
            name=NOT_DISAGGREGATED,
            individuals=rest,
            households=rest_households,
            partial=parent.partial,
            notes=tuple(notes),
        )
    )
    return tuple(lines)
