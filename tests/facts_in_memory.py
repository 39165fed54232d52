"""The figure rule's facts from a list in memory, and the rule written the plain way.

``InMemoryFacts`` answers ``projections.facts.Facts`` from a list of record versions, so
the rule's branches run without a database (tests/test_figure_rule_in_memory.py); the
same questions asked of the SQL facts must get the same answers
(tests/test_speed_equivalence.py). ``plain_figure`` is the figure rule as docs/design.md states
it, recursively, one location at a time: the reference the batched rule is held to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import count
from typing import Any
from uuid import uuid4

from ledger.locations import LocationIndex
from projections.facts import FLOW_KINDS, LEVEL_COLUMNS, Bounds, Fact, FlowQuery, FlowSum


@dataclass(frozen=True)
class Row:
    """A row of the figure table: a fact, where it sits, and when it was current."""

    fact: Fact
    ancestors: dict[str, str | None]
    superseded_at: int | None = None
    retracted: bool = False
    parts: dict[str, dict[str, int]] = field(default_factory=dict)  # dimension → parts

    def column(self, name: str) -> str | None:
        return self.fact.pcode if name == "pcode" else self.ancestors[name]


@dataclass
class Log:
    """Records, corrections and retractions, each at the next tick of a clock."""

    index: LocationIndex
    rows: list[Row] = field(default_factory=list)
    _clock: Any = field(default_factory=lambda: count(1_000_000, 1_000_000))

    def _ancestors(self, pcode: str) -> dict[str, str | None]:
        chain = [pcode, *self.index.ancestors(pcode)]
        by_level = {self.index.get(p).level: p for p in chain}
        return {"country": chain[-1], "adm1": by_level.get(1), "adm2": by_level.get(2)}

    def record(
        self,
        kind: str,
        pcode: str,
        day: str,
        individuals: int,
        households: int | None = None,
        parts: dict[str, dict[str, int]] | None = None,
    ) -> str:
        at = next(self._clock)
        fact = Fact(
            record_id=str(uuid4()), version=1, kind=kind, pcode=pcode,
            day=date.fromisoformat(day), precision="day", individuals=individuals,
            households=households, created_at=at, recorded_at=at, position=len(self.rows) + 1,
        )  # fmt: skip
        self.rows.append(Row(fact, self._ancestors(pcode), parts=parts or {}))
        return fact.record_id

    def _amend(self, record_id: str, retract: bool, **changes: Any) -> int:
        at = next(self._clock)
        i = max(i for i, r in enumerate(self.rows) if r.fact.record_id == record_id)
        old = self.rows[i]
        self.rows[i] = replace(old, superseded_at=at)
        fact = replace(old.fact, version=old.fact.version + 1, recorded_at=at,
                       position=len(self.rows) + 1, **changes)  # fmt: skip
        self.rows.append(Row(fact, self._ancestors(fact.pcode), retracted=retract, parts=old.parts))
        return at

    def correct(self, record_id: str, **changes: Any) -> int:
        """New values for a record (``day`` as text); returns the instant it was recorded."""
        if "day" in changes:
            changes["day"] = date.fromisoformat(changes["day"])
        return self._amend(record_id, False, **changes)

    def retract(self, record_id: str) -> int:
        return self._amend(record_id, True)

    def now(self) -> int:
        return next(self._clock)


class InMemoryFacts:
    """``projections.facts.Facts`` over a list of rows, as known at ``known_at`` (µs)."""

    def __init__(self, rows: Sequence[Row], known_at: int) -> None:
        self.rows = [
            r for r in rows
            if r.fact.recorded_at <= known_at
            and (r.superseded_at is None or r.superseded_at > known_at)
            and not r.retracted
        ]  # fmt: skip

    def baselines(
        self, pcodes: Sequence[str], until: date, dimension: str | None = None
    ) -> dict[str, list[Fact]]:
        by_position = {r.fact.position: r.parts for r in self.rows}
        out = {}
        for pcode in pcodes:
            found = [
                r.fact for r in self.rows
                if r.fact.pcode == pcode and r.fact.kind == "assessment" and r.fact.day <= until
            ]  # fmt: skip
            latest = max((f.day for f in found), default=None)
            out[pcode] = sorted(
                (f for f in found if f.day == latest), key=lambda f: (f.created_at, f.position)
            )
            if dimension is not None:
                out[pcode] = [
                    replace(f, parts=dict(by_position[f.position].get(dimension, {})))
                    for f in out[pcode]
                ]
        return out

    def present(self, pcodes: Sequence[str], level: int, until: date) -> set[str]:
        column = LEVEL_COLUMNS.get(level, "pcode")
        return {
            p for p in pcodes
            if any(r.column(column) == p and r.fact.day <= until for r in self.rows)
        }  # fmt: skip

    def flow_facts(self, queries: Sequence[FlowQuery], until: date) -> list[list[Fact]]:
        out = []
        for q in queries:
            column = LEVEL_COLUMNS[q.level] if q.below and q.level in LEVEL_COLUMNS else "pcode"
            found = [
                r.fact for r in self.rows
                if r.column(column) == q.pcode and r.fact.kind in FLOW_KINDS
                and (q.after is None or r.fact.day > q.after) and r.fact.day <= until
            ]  # fmt: skip
            out.append(sorted(found, key=lambda f: (f.day, f.pcode, f.position)))
        return out

    def flow_sums(
        self, queries: Sequence[FlowQuery], until: date, dimension: str | None = None
    ) -> list[FlowSum]:
        by_position = {r.fact.position: r.parts for r in self.rows}
        out = []
        for found in self.flow_facts(queries, until):
            parts = None
            if dimension is not None:
                parts = {}
                for f in found:
                    sign = -1 if f.kind == "return" else 1
                    for value, n in by_position[f.position].get(dimension, {}).items():
                        parts[value] = parts.get(value, 0) + sign * n
            out.append(
                FlowSum(
                    individuals=sum(f.signed_individuals for f in found),
                    households=sum(f.signed_households or 0 for f in found),
                    records=len(found),
                    without_households=sum(1 for f in found if f.households is None),
                    parts=parts,
                    bounds=sum((f.bounds for f in found), Bounds()),
                )
            )
        return out


@dataclass(frozen=True)
class Plain:
    """A figure as the rule's text states it: the number, households or None, partial."""

    individuals: int
    households: int | None
    partial: bool
    records: frozenset[tuple[str, int]]  # the record versions it rests on


def plain_figure(facts: Any, index: LocationIndex, as_of: date, pcode: str) -> Plain:
    """The figure rule, recursively, one location and one question at a time."""
    level = index.get(pcode).level
    [candidates] = facts.baselines([pcode], as_of).values()
    if candidates:
        baseline = candidates[-1]
        [flows] = facts.flow_facts([FlowQuery(pcode, level, True, baseline.day)], as_of)
        parts = [baseline, *flows]
        individuals = baseline.individuals + sum(f.signed_individuals for f in flows)
        known = all(f.households is not None for f in parts)
        households = (
            baseline.households + sum(f.signed_households or 0 for f in flows) if known else None
        )
        return Plain(individuals, households, False,
                     frozenset((f.record_id, f.version) for f in parts))  # fmt: skip
    [own] = facts.flow_facts([FlowQuery(pcode, level, False, None)], as_of)
    children = [plain_figure(facts, index, as_of, c) for c in index.children.get(pcode, [])]
    children = [c for c in children if c.records]
    records = frozenset((f.record_id, f.version) for f in own).union(*(c.records for c in children))
    individuals = sum(f.signed_individuals for f in own) + sum(c.individuals for c in children)
    known = all(f.households is not None for f in own) and all(
        c.households is not None for c in children
    )
    households = None
    if records and known:
        households = sum(f.signed_households or 0 for f in own) + sum(
            c.households or 0 for c in children
        )
    partial = bool(own) or any(c.partial for c in children)
    return Plain(individuals, households, partial, records)
