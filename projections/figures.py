"""The figure rule (DESIGN.md): the stock of IDPs at a location, valid at T, as known at K.

1. Baseline: the latest assessment at the location itself dated ≤ T (several on that day:
   the one recorded last; the others are listed as superseded).
2. With a baseline on day B: baseline + registrations − returns at the location or below,
   dated after B and ≤ T.
3. Without one: the children's figures (same rule) + the flows at the location itself ≤ T.
4. Partial when it rests on flows without a baseline; households only when every part
   has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ledger.locations import LocationIndex
from projections.facts import Fact, FlowSum, SqlFacts

MANY_CHILDREN = 2  # above this, one grouped query finds the children that have data


@dataclass(frozen=True)
class Figure:
    pcode: str
    individuals: int
    households: int | None
    partial: bool
    notes: tuple[str, ...]
    baseline: Fact | None = None
    superseded: tuple[Fact, ...] = ()
    flows: tuple[Fact, ...] = ()
    flow_sum: FlowSum = field(default_factory=FlowSum)
    children: tuple[Figure, ...] = ()
    records: int = 0
    without_households: int = 0
    without_baseline: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self.records == 0


class FigureRule:
    """Computes figures for one (as_of, known_at) pair, memoised per location."""

    def __init__(
        self, facts: SqlFacts, index: LocationIndex, as_of: date, *, detail: bool = False
    ) -> None:
        self.facts = facts
        self.index = index
        self.as_of = as_of
        self.detail = detail
        self._memo: dict[str, Figure] = {}

    def figure(self, pcode: str) -> Figure:
        if pcode not in self._memo:
            self._memo[pcode] = self._compute(pcode)
        return self._memo[pcode]

    def _compute(self, pcode: str) -> Figure:
        level = self.index.get(pcode).level
        candidates = self.facts.baselines(pcode, self.as_of)
        if candidates:
            return self._from_baseline(pcode, level, candidates)
        return self._from_children(pcode, level)

    def _flows(
        self, pcode: str, level: int, below: bool, after: date | None
    ) -> tuple[FlowSum, tuple[Fact, ...]]:
        if self.detail:
            facts = tuple(
                self.facts.flow_facts(pcode, level, below=below, after=after, until=self.as_of)
            )
            total = FlowSum(
                individuals=sum(f.signed_individuals for f in facts),
                households=sum(f.signed_households or 0 for f in facts),
                records=len(facts),
                without_households=sum(1 for f in facts if f.households is None),
            )
            return total, facts
        total = self.facts.flow_sum(pcode, level, below=below, after=after, until=self.as_of)
        return total, ()

    def _from_baseline(self, pcode: str, level: int, candidates: list[Fact]) -> Figure:
        baseline = candidates[-1]
        flows, flow_facts = self._flows(pcode, level, below=True, after=baseline.day)
        records = 1 + flows.records
        without = flows.without_households + (1 if baseline.households is None else 0)
        households = None
        if without == 0 and baseline.households is not None:
            households = baseline.households + flows.households
        individuals = baseline.individuals + flows.individuals
        notes = []
        if len(candidates) > 1:
            notes.append(
                f"{len(candidates) - 1} other assessment(s) of the same date superseded by "
                "the one recorded last"
            )
        notes += _household_notes(without, records) + _negative_notes(individuals)
        return Figure(
            pcode=pcode,
            individuals=individuals,
            households=households,
            partial=False,
            notes=tuple(notes),
            baseline=baseline,
            superseded=tuple(candidates[:-1]),
            flows=flow_facts,
            flow_sum=flows,
            records=records,
            without_households=without,
        )

    def _from_children(self, pcode: str, level: int) -> Figure:
        child_codes = self.index.children.get(pcode, [])
        if len(child_codes) > MANY_CHILDREN:
            present = self.facts.present(child_codes, level + 1, self.as_of)
            child_codes = [c for c in child_codes if c in present]
        children = tuple(f for f in (self.figure(c) for c in child_codes) if not f.empty)
        own, own_facts = self._flows(pcode, level, below=False, after=None)
        records = own.records + sum(c.records for c in children)
        without = own.without_households + sum(c.without_households for c in children)
        individuals = own.individuals + sum(c.individuals for c in children)
        households = None
        if records and without == 0:
            households = own.households + sum(c.households or 0 for c in children)
        without_baseline = tuple(
            dict.fromkeys(
                ([pcode] if own.records else []) + [p for c in children for p in c.without_baseline]
            )
        )
        notes = []
        if own.records:
            notes.append(f"no baseline on or before {self.as_of.isoformat()}")
        elif without_baseline:
            names = ", ".join(self.index.get(p).name for p in without_baseline[:5])
            more = "…" if len(without_baseline) > 5 else ""
            notes.append(f"rests on flows without a baseline at {names}{more}")
        notes += _household_notes(without, records) + _negative_notes(individuals)
        return Figure(
            pcode=pcode,
            individuals=individuals,
            households=households,
            partial=bool(without_baseline),
            notes=tuple(notes),
            flows=own_facts,
            flow_sum=own,
            children=children,
            records=records,
            without_households=without,
            without_baseline=without_baseline,
        )


def _household_notes(without: int, records: int) -> list[str]:
    if without == 0 or records == 0:
        return []
    return [f"households unknown for {without} of {records} records"]


def _negative_notes(individuals: int) -> list[str]:
    if individuals >= 0:
        return []
    return ["negative: recorded returns exceed the baseline and registrations"]
