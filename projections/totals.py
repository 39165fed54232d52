"""Point-in-time totals: a location's figure and, with ``--by``, its breakdown by level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ledger.errors import InvalidInput
from ledger.locations import Location, LocationIndex, level_name
from projections.figures import Figure, FigureRule

NOT_DISAGGREGATED = "not disaggregated"


@dataclass(frozen=True)
class Line:
    pcode: str | None
    name: str
    individuals: int
    households: int | None
    partial: bool
    notes: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "pcode": self.pcode,
            "name": self.name,
            "individuals": self.individuals,
            "households": self.households,
            "partial": self.partial,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Totals:
    as_of: date
    known_at: datetime
    position: int
    location: Location
    total: Line
    by: str | None = None
    rows: tuple[Line, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "as_of": self.as_of.isoformat(),
            "known_at": self.known_at.isoformat(),
            "position": self.position,
            "location": {
                "pcode": self.location.pcode,
                "name": self.location.name,
                "level": self.location.level_name,
            },
            "total": {k: v for k, v in self.total.as_dict().items() if k not in ("pcode", "name")},
        }
        if self.rows is not None:
            data["by"] = self.by
            data["rows"] = [row.as_dict() for row in self.rows]
        return data


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


def breakdown(rule: FigureRule, location: Location, level: int) -> tuple[Line, ...]:
    """Each location at ``level`` under ``location`` by the rule, plus the line that
    reconciles them with the parent's figure (negative, with a warning, when they exceed it)."""
    index = rule.index
    if level <= location.level:
        raise InvalidInput(
            f"--by {level_name(level)} is not below {location.name} ({location.level_name})"
        )
    targets = [p for p in index.descendants(location.pcode) if index.get(p).level == level]
    rule.prefetch(targets)
    figures = [rule.figure(p) for p in targets]
    lines = [line_of(f, index, rule.as_of) for f in figures]
    parent = rule.figure(location.pcode)
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
