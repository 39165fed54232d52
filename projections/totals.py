"""Point-in-time totals: a location's figure and, with ``--by``, its breakdown by level."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from ledger.breakdowns import band_bounds
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
class Part:
    """One part of a figure's breakdown (``value`` None: the not disaggregated rest)."""

    value: str | None
    individuals: int
    name: str | None = None  # an origin's location name

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"value": self.value}
        if self.value is None:
            data["label"] = NOT_DISAGGREGATED
        elif self.name is not None:
            data["name"] = self.name
        data["individuals"] = self.individuals
        return data


@dataclass(frozen=True)
class Breakdown:
    """A figure by one dimension: its parts, then the rest (they add up to the figure)."""

    dimension: str
    parts: tuple[Part, ...]

    def to_json(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "parts": [p.to_json() for p in self.parts]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Breakdown:
        parts = tuple(Part(p["value"], int(p["individuals"]), p.get("name")) for p in data["parts"])
        return cls(data["dimension"], parts)

    @classmethod
    def of(
        cls, dimension: str, parts: dict[str, int], individuals: int, index: LocationIndex
    ) -> Breakdown:
        def name(value: str) -> str | None:
            if dimension != "origin":
                return None
            found = index.by_pcode.get(value)
            return None if found is None else found.name

        listed = [Part(v, n, name(v)) for v, n in _in_order(dimension, parts)]
        rest = individuals - sum(parts.values())
        return cls(dimension, (*listed, Part(None, rest)))


def _in_order(dimension: str, parts: dict[str, int]) -> list[tuple[str, int]]:
    """Sexes and age bands in their natural order; causes and origins largest first."""
    if dimension == "age":
        return sorted(parts.items(), key=lambda kv: band_bounds(kv[0]))
    if dimension == "sex":
        return sorted(parts.items())
    return sorted(parts.items(), key=lambda kv: (-kv[1], kv[0]))


@dataclass(frozen=True)
class Line:
    """One line of a table of figures: a location's (``pcode`` None: the reconciliation)."""

    pcode: str | None
    name: str
    individuals: int
    households: int | None
    partial: bool
    notes: tuple[str, ...]
    breakdown: Breakdown | None = None
    quantifier: str = "exact"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "pcode": self.pcode,
            "name": self.name,
            "individuals": self.individuals,
            "quantifier": self.quantifier,
            "households": self.households,
            "partial": self.partial,
            "notes": list(self.notes),
        }
        if self.breakdown is not None:
            data["breakdown"] = self.breakdown.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], pcode: str | None, name: str) -> Line:
        breakdown = data.get("breakdown")
        return cls(
            pcode=data.get("pcode", pcode),
            name=data.get("name", name),
            individuals=int(data["individuals"]),
            households=data["households"],
            partial=bool(data["partial"]),
            notes=tuple(data["notes"]),
            breakdown=None if breakdown is None else Breakdown.from_json(breakdown),
            quantifier=data.get("quantifier", "exact"),
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

    def noted(self, note: str) -> Totals:
        """The same totals with one more note on the total."""
        return replace(self, total=replace(self.total, notes=(*self.total.notes, note)))

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


def line_of(
    figure: Figure, index: LocationIndex, as_of: date, dimension: str | None = None
) -> Line:
    notes = figure.notes
    if figure.empty:
        notes = (f"no figures on or before {as_of.isoformat()}",)
    breakdown = None
    if dimension is not None:
        breakdown = Breakdown.of(dimension, figure.parts or {}, figure.individuals, index)
        notes += _part_notes(breakdown)
    return Line(
        pcode=figure.pcode,
        name=index.get(figure.pcode).name,
        individuals=figure.individuals,
        households=figure.households,
        partial=figure.partial,
        notes=notes,
        breakdown=breakdown,
        quantifier=figure.quantifier,
    )


def _part_notes(breakdown: Breakdown) -> tuple[str, ...]:
    """A part below zero (returns of people the source did not break down alike), or parts
    adding up to more than the figure: said, not hidden."""
    notes = []
    negative = [p.value for p in breakdown.parts if p.value is not None and p.individuals < 0]
    if negative:
        notes.append(
            f"warning: {breakdown.dimension} {', '.join(negative)} below zero: recorded "
            "returns exceed what was broken down"
        )
    rest = breakdown.parts[-1].individuals
    if rest < 0:
        notes.append(
            f"warning: the {breakdown.dimension} parts add up to {-rest:,} more than the "
            "figure: the sources disagree"
        )
    return tuple(notes)


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
                total=line_of(parent, index, moment.as_of, rule.dimension),
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
    lines = [line_of(f, rule.index, rule.as_of, rule.dimension) for f in figures]
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
    rest_breakdown = None
    if rule.dimension is not None:
        # the parent's parts less the rows', value by value: each column adds up too
        rest_parts = dict(parent.parts or {})
        for f in figures:
            for value, n in (f.parts or {}).items():
                rest_parts[value] = rest_parts.get(value, 0) - n
        rest_parts = {v: n for v, n in rest_parts.items() if n != 0}
        rest_breakdown = Breakdown.of(rule.dimension, rest_parts, rest, rule.index)
    lines.append(
        Line(
            pcode=None,
            name=NOT_DISAGGREGATED,
            individuals=rest,
            households=rest_households,
            partial=parent.partial,
            notes=tuple(notes),
            breakdown=rest_breakdown,
            # the parent less the rows: a row's lower bound is the rest's upper one
            quantifier=sum((f.bounds.negated() for f in figures), parent.bounds).quantifier,
        )
    )
    return tuple(lines)
