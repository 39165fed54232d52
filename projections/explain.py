"""The derivation of a figure, as typed data: baseline, flows, corrections, children, sums."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from ledger.dates import FigureDate, Precision
from ledger.integrity.checkpoint import Checkpoint
from ledger.locations import Location, LocationIndex
from projections.facts import Fact
from projections.figures import Figure
from projections.schema import from_micros
from projections.shown import Correction, Details, ShownFacts
from projections.totals import location_json


def iso(micros: int) -> str:
    return from_micros(micros).isoformat()


@dataclass(frozen=True)
class CorrectionShown:
    version: int
    field: str
    old: Any
    new: Any
    reason: str | None
    actor: str
    recorded_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "reason": self.reason,
            "actor": self.actor,
            "recorded_at": self.recorded_at,
        }


@dataclass(frozen=True)
class VersionShown:
    """A record version a figure rests on, with its source and the corrections behind it."""

    record_id: str
    version: int
    kind: str
    pcode: str
    location_name: str | None
    date: str
    individuals: int
    households: int | None
    source: dict[str, Any]
    recorded_at: str  # when the record was first recorded
    actor: str
    corrections: tuple[CorrectionShown, ...]
    breakdowns: dict[str, dict[str, int]] | None = None
    quantifier: str = "exact"
    role: str = "recommended"
    reviews: tuple[dict[str, Any], ...] = ()
    conversion: dict[str, Any] | None = None
    db_user: str | None = None  # the database session user that appended it, if known

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "version": self.version,
            "kind": self.kind,
            "location": {"pcode": self.pcode, "name": self.location_name},
            "date": self.date,
            "individuals": self.individuals,
            "quantifier": self.quantifier,
            "role": self.role,
            "households": self.households,
            "source": self.source,
            "recorded_at": self.recorded_at,
            "actor": self.actor,
            "db_user": self.db_user,
            "breakdowns": self.breakdowns,
            "conversion": self.conversion,
            "reviews": [dict(r) for r in self.reviews],
            "corrections": [c.to_json() for c in self.corrections],
        }


@dataclass(frozen=True)
class Derivation:
    """One figure of the tree: how it was computed, and the figures below it."""

    location: Location
    individuals: int
    households: int | None
    partial: bool
    baseline: VersionShown | None
    superseded: tuple[VersionShown, ...]
    flows: tuple[VersionShown, ...]
    children: tuple[Derivation, ...]
    arithmetic: str
    notes: tuple[str, ...]
    quantifier: str = "exact"
    triangulation: tuple[VersionShown, ...] = ()

    def noted(self, note: str) -> Derivation:
        """The same derivation with one more note."""
        return replace(self, notes=(*self.notes, note))

    def to_json(self) -> dict[str, Any]:
        return {
            "location": location_json(self.location),
            "individuals": self.individuals,
            "quantifier": self.quantifier,
            "households": self.households,
            "partial": self.partial,
            "baseline": self.baseline.to_json() if self.baseline else None,
            "superseded": [v.to_json() for v in self.superseded],
            "flows": [v.to_json() for v in self.flows],
            "triangulation": [v.to_json() for v in self.triangulation],
            "children": [c.to_json() for c in self.children],
            "arithmetic": self.arithmetic,
            "notes": list(self.notes),
        }

    def versions(self) -> Iterator[VersionShown]:
        """Every version shown in the tree, depth first."""
        if self.baseline is not None:
            yield self.baseline
        yield from self.superseded
        yield from self.flows
        yield from self.triangulation
        for child in self.children:
            yield from child.versions()


@dataclass(frozen=True)
class Explanation:
    as_of: date
    known_at: datetime
    position: int
    checkpoint: Checkpoint
    derivation: Derivation

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "known_at": self.known_at.isoformat(),
            "position": self.position,
            "checkpoint": self.checkpoint.as_dict(),
            **self.derivation.to_json(),
        }


def derivation(figure: Figure, index: LocationIndex, facts: ShownFacts) -> Derivation:
    """Resolve every version, source and correction behind a figure (two statements)."""
    shown = list(_facts_shown(figure))
    beside = facts.triangulation(list(_counted_places(figure)))
    shown += [f for found in beside.values() for f in found]
    versions = [(f.record_id, f.version) for f in shown]
    corrections = facts.corrections_of(versions)
    details = facts.details_of([f.position for f in shown])
    reviews = facts.reviews_of(versions)
    return _Deriver(index, corrections, details, beside, reviews).node(figure)


def _counted_places(figure: Figure) -> Iterator[tuple[str, date]]:
    """Where and when each counted figure of the tree stands: what a triangulation
    figure of the same stock would share."""
    if figure.baseline is not None:
        yield figure.baseline.pcode, figure.baseline.day
    for flow in figure.flows:
        yield flow.pcode, flow.day
    for child in figure.children:
        yield from _counted_places(child)


def _facts_shown(figure: Figure) -> Iterator[Fact]:
    if figure.baseline is not None:
        yield figure.baseline
    yield from figure.superseded
    yield from figure.flows
    for child in figure.children:
        yield from _facts_shown(child)


@dataclass(frozen=True)
class _Deriver:
    index: LocationIndex
    corrections: dict[tuple[str, int], list[Correction]]
    details: dict[int, Details]
    beside: dict[tuple[str, date], list[Fact]]
    reviews: dict[tuple[str, int], list[dict[str, Any]]]

    def node(self, figure: Figure) -> Derivation:
        places = dict.fromkeys(
            ([(figure.baseline.pcode, figure.baseline.day)] if figure.baseline else [])
            + [(f.pcode, f.day) for f in figure.flows]
        )
        return Derivation(
            location=self.index.get(figure.pcode),
            individuals=figure.individuals,
            households=figure.households,
            partial=figure.partial,
            baseline=self.version(figure.baseline) if figure.baseline else None,
            superseded=tuple(self.version(f) for f in figure.superseded),
            flows=tuple(self.version(f) for f in figure.flows),
            children=tuple(self.node(child) for child in figure.children),
            arithmetic=arithmetic(figure),
            notes=figure.notes,
            quantifier=figure.quantifier,
            triangulation=tuple(
                self.version(f) for place in places for f in self.beside.get(place, [])
            ),
        )

    def version(self, fact: Fact) -> VersionShown:
        loc = self.index.get(fact.pcode) if fact.pcode in self.index else None
        details = self.details[fact.position]
        return VersionShown(
            record_id=fact.record_id,
            version=fact.version,
            kind=fact.kind,
            pcode=fact.pcode,
            location_name=loc.name if loc else None,
            date=str(FigureDate(fact.day, Precision(fact.precision))),
            individuals=fact.individuals,
            households=fact.households,
            source=details.source,
            recorded_at=iso(fact.created_at),
            actor=details.actor,
            db_user=details.db_user,
            breakdowns=details.breakdowns,
            quantifier=fact.quantifier,
            role=details.role,
            conversion=details.conversion,
            reviews=tuple(
                {**r, "at": iso(r["at"])}
                for r in self.reviews.get((fact.record_id, fact.version), [])
            ),
            corrections=tuple(
                CorrectionShown(
                    c.version, c.field, c.old, c.new, c.reason, c.actor, iso(c.recorded_at)
                )
                for c in self.corrections[(fact.record_id, fact.version)]
            ),
        )


def arithmetic(figure: Figure) -> str:
    """The sum a reader can redo by hand, e.g. ``38,172 + 2,000 + 1,164 = 41,336``."""
    terms: list[tuple[str, int]] = []
    if figure.baseline is not None:
        terms.append(("+", figure.baseline.individuals))
    else:
        terms += [("+", child.individuals) for child in figure.children]
    if figure.flows:
        terms += [("-" if f.kind == "return" else "+", f.individuals) for f in figure.flows]
    elif figure.flow_sum.records:
        terms.append(
            ("+" if figure.flow_sum.individuals >= 0 else "-", abs(figure.flow_sum.individuals))
        )
    if not terms:
        return "0 (no figures)"
    if len(terms) == 1 and terms[0][0] == "+":
        return f"{figure.individuals:,}"
    text = f"{terms[0][1]:,}" if terms[0][0] == "+" else f"-{terms[0][1]:,}"
    for sign, value in terms[1:]:
        text += f" {sign} {value:,}"
    return f"{text} = {figure.individuals:,}"
