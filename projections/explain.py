"""The derivation of a figure, as data: baseline, flows, corrections, children, arithmetic."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ledger.dates import FigureDate, Precision
from ledger.locations import LocationIndex
from projections.facts import Correction, Fact, SqlFacts, iso
from projections.figures import Figure


@dataclass(frozen=True)
class Explanation:
    """A figure's derivation, resolved into JSON-ready data (the contract's shape)."""

    figure: Figure
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return self.data


def explain(
    figure: Figure,
    index: LocationIndex,
    facts: SqlFacts,
    *,
    as_of: date,
    known_at: datetime,
    position: int,
    checkpoint: dict[str, Any],
) -> Explanation:
    """Resolve every version and correction behind a figure (needs the open connection)."""
    data: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "known_at": known_at.isoformat(),
        "position": position,
        "checkpoint": checkpoint,
    }
    shown = list(_facts_shown(figure))
    corrections = facts.corrections_of([(f.record_id, f.version) for f in shown])
    data.update(_Deriver(index, corrections).node(figure))
    return Explanation(figure, data)


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

    def node(self, figure: Figure) -> dict[str, Any]:
        loc = self.index.get(figure.pcode)
        return {
            "location": {"pcode": loc.pcode, "name": loc.name, "level": loc.level_name},
            "individuals": figure.individuals,
            "households": figure.households,
            "partial": figure.partial,
            "baseline": self.version(figure.baseline) if figure.baseline else None,
            "superseded": [self.version(f) for f in figure.superseded],
            "flows": [self.version(f) for f in figure.flows],
            "children": [self.node(child) for child in figure.children],
            "arithmetic": arithmetic(figure),
            "notes": list(figure.notes),
        }

    def version(self, fact: Fact) -> dict[str, Any]:
        loc = self.index.get(fact.pcode) if fact.pcode in self.index else None
        return {
            "record_id": fact.record_id,
            "version": fact.version,
            "kind": fact.kind,
            "location": {"pcode": fact.pcode, "name": loc.name if loc else None},
            "date": _date_text(fact),
            "individuals": fact.individuals,
            "households": fact.households,
            "source": fact.source,
            "recorded_at": iso(fact.created_at),
            "actor": fact.actor,
            "corrections": [
                _correction(c) for c in self.corrections[(fact.record_id, fact.version)]
            ],
        }


def _correction(c: Correction) -> dict[str, Any]:
    return {
        "version": c.version,
        "field": c.field,
        "old": c.old,
        "new": c.new,
        "reason": c.reason,
        "actor": c.actor,
        "recorded_at": iso(c.recorded_at),
    }


def _date_text(fact: Fact) -> str:
    return str(FigureDate(fact.day, Precision(fact.precision)))


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
