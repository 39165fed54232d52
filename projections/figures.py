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
from projections.facts import Fact, FlowQuery, FlowSum, SqlFacts

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
        # answers asked ahead for several locations at once (see ``prefetch``)
        self._baselines: dict[str, list[Fact]] = {}
        self._flow_sums: dict[FlowQuery, FlowSum] = {}
        self._flow_facts: dict[FlowQuery, list[Fact]] = {}

    def figure(self, pcode: str) -> Figure:
        if pcode not in self._memo:
            self._memo[pcode] = self._compute(pcode)
        return self._memo[pcode]

    def prefetch(self, pcodes: list[str]) -> None:
        """Ask the questions the rule will ask first of each of these locations (their
        baselines, then the flows after them or at them) together rather than one location
        at a time: the same answers, in two batches instead of two statements per location
        (on PostgreSQL, two round trips instead of two per location). An explanation asks
        for the flows themselves rather than their sums."""
        todo = self._unasked(pcodes)
        if len(todo) < 2:
            return
        self._baselines.update(self.facts.baselines_of(todo, self.as_of))
        self._ask_flows(todo)

    def _unasked(self, pcodes: list[str]) -> list[str]:
        return [p for p in pcodes if p not in self._memo and p not in self._baselines]

    def _ask_flows(self, pcodes: list[str]) -> None:
        queries = []
        for pcode in pcodes:
            level = self.index.get(pcode).level
            candidates = self._baselines[pcode]
            if candidates:
                queries.append(FlowQuery(pcode, level, below=True, after=candidates[-1].day))
            else:
                queries.append(FlowQuery(pcode, level, below=False, after=None))
        if self.detail:
            rows = self.facts.flow_facts_of(queries, self.as_of)
            self._flow_facts.update(zip(queries, rows, strict=True))
        else:
            sums = self.facts.flow_sums(queries, self.as_of)
            self._flow_sums.update(zip(queries, sums, strict=True))

    def _children_with_data(self, codes: list[str], level: int) -> list[str]:
        """The children that have any fact at or below them (one grouped query), with
        their first questions asked in the same batch where they are asked ahead."""
        todo = self._unasked(codes)
        if len(todo) < 2:
            present = self.facts.present(codes, level, self.as_of)
            return [c for c in codes if c in present]
        present, baselines = self.facts.survey(todo, level, self.as_of)
        kept = [c for c in todo if c in present]
        self._baselines.update((c, baselines[c]) for c in kept)
        if kept:
            self._ask_flows(kept)
        # those computed or asked about already are kept: an empty figure is dropped anyway
        surveyed = set(todo)
        return [c for c in codes if c in present or c not in surveyed]

    def _compute(self, pcode: str) -> Figure:
        level = self.index.get(pcode).level
        if pcode in self._baselines:
            candidates = self._baselines.pop(pcode)
        else:
            candidates = self.facts.baselines(pcode, self.as_of)
        if candidates:
            return self._from_baseline(pcode, level, candidates)
        return self._from_children(pcode, level)

    def _flows(
        self, pcode: str, level: int, below: bool, after: date | None
    ) -> tuple[FlowSum, tuple[Fact, ...]]:
        if self.detail:
            asked_facts = self._flow_facts.pop(FlowQuery(pcode, level, below, after), None)
            if asked_facts is None:
                asked_facts = self.facts.flow_facts(
                    pcode, level, below=below, after=after, until=self.as_of
                )
            facts = tuple(asked_facts)
            total = FlowSum(
                individuals=sum(f.signed_individuals for f in facts),
                households=sum(f.signed_households or 0 for f in facts),
                records=len(facts),
                without_households=sum(1 for f in facts if f.households is None),
            )
            return total, facts
        asked = self._flow_sums.pop(FlowQuery(pcode, level, below, after), None)
        if asked is not None:
            return asked, ()
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
            child_codes = self._children_with_data(child_codes, level + 1)
        else:
            self.prefetch(child_codes)
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
