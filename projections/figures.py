"""The figure rule: the stock of IDPs at a location, valid at T, as known at K.

1. Baseline: the latest assessment at the location itself dated ≤ T (several on that day:
   the one recorded last; the others are listed as superseded).
2. With a baseline on day B: baseline + registrations − returns at the location or below,
   dated after B and ≤ T.
3. Without one: the children's figures (same rule) + the flows at the location itself ≤ T.
4. Partial when it rests on flows without a baseline; households only when every part
   has them.

The rule asks its questions a level at a time (``Facts``: each question about a whole
list of locations): the locations asked for first, then the children of those without a
baseline, and so on down, so a country's figure by region takes a few statements per
admin level however many regions and districts it has. The answers are then assembled
bottom-up, with no more questions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from ledger.locations import LocationIndex
from projections.facts import Bounds, Fact, Facts, FlowQuery, FlowSum


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
    # with a breakdown asked for: value → individuals, by the same rule part by part
    # (what lacks the dimension is the rest of ``individuals``, never a part)
    parts: dict[str, int] | None = None
    bounds: Bounds = field(default_factory=Bounds)  # of the counted parts' quantifiers

    @property
    def empty(self) -> bool:
        return self.records == 0

    @property
    def quantifier(self) -> str:
        return self.bounds.quantifier


@dataclass
class _Asked:
    """What the rule learnt about one location before assembling its figure."""

    candidates: list[Fact]
    flows: FlowQuery
    children: list[str] = field(default_factory=list)


class FigureRule:
    """Computes figures for one (as_of, known_at) pair, memoised per location. ``detail``:
    keep the flows themselves (an explanation), not only their sums (totals).
    ``dimension``: break each figure down by it too (``Figure.parts``)."""

    def __init__(
        self,
        facts: Facts,
        index: LocationIndex,
        as_of: date,
        *,
        detail: bool = False,
        dimension: str | None = None,
    ):
        self.facts = facts
        self.index = index
        self.as_of = as_of
        self.detail = detail
        self.dimension = dimension
        self._memo: dict[str, Figure] = {}

    def figure(self, pcode: str) -> Figure:
        return self.figures([pcode])[pcode]

    def figures(self, pcodes: list[str]) -> dict[str, Figure]:
        """The figures of these locations, every question asked a level at a time."""
        todo = [p for p in dict.fromkeys(pcodes) if p not in self._memo]
        if todo:
            asked, sums, facts = self._survey(todo)
            for pcode in todo:
                self._assemble(pcode, asked, sums, facts)
        return {p: self._memo[p] for p in pcodes}

    def _survey(
        self, roots: list[str]
    ) -> tuple[dict[str, _Asked], dict[FlowQuery, FlowSum], dict[FlowQuery, list[Fact]]]:
        asked: dict[str, _Asked] = {}
        sums: dict[FlowQuery, FlowSum] = {}
        facts: dict[FlowQuery, list[Fact]] = {}
        frontier = roots
        while frontier:
            baselines = self.facts.baselines(frontier, self.as_of, self.dimension)
            queries = []
            expand = []
            for pcode in frontier:
                candidates = baselines.get(pcode, [])
                level = self.index.get(pcode).level
                if candidates:
                    query = FlowQuery(pcode, level, below=True, after=candidates[-1].day)
                else:
                    query = FlowQuery(pcode, level, below=False, after=None)
                    expand.append(pcode)
                asked[pcode] = _Asked(candidates, query)
                queries.append(query)
            if self.detail:
                facts.update(zip(queries, self.facts.flow_facts(queries, self.as_of), strict=True))
            else:
                found = self.facts.flow_sums(queries, self.as_of, self.dimension)
                sums.update(zip(queries, found, strict=True))
            frontier = self._children_with_data(expand, asked)
        return asked, sums, facts

    def _children_with_data(self, parents: list[str], asked: dict[str, _Asked]) -> list[str]:
        """The children of ``parents`` that have any figure at or below them (one question
        per admin level among them), recorded on their parents."""
        by_level: dict[int, list[str]] = {}
        for parent in parents:
            for child in self.index.children.get(parent, []):
                if child not in self._memo:
                    by_level.setdefault(self.index.get(child).level, []).append(child)
        present: set[str] = set()
        for level, codes in by_level.items():
            present |= self.facts.present(codes, level, self.as_of)
        frontier = []
        for parent in parents:
            for child in self.index.children.get(parent, []):
                if child in self._memo or child in present:
                    asked[parent].children.append(child)
                    if child not in asked and child not in self._memo:
                        frontier.append(child)
        return list(dict.fromkeys(frontier))

    def _assemble(
        self,
        pcode: str,
        asked: dict[str, _Asked],
        sums: dict[FlowQuery, FlowSum],
        facts: dict[FlowQuery, list[Fact]],
    ) -> Figure:
        if pcode in self._memo:
            return self._memo[pcode]
        known = asked[pcode]
        flows = self._flows(known.flows, sums, facts)
        if known.candidates:
            figure = self._from_baseline(pcode, known.candidates, flows)
            parts = [known.candidates[-1].parts or {}]
        else:
            children = tuple(self._assemble(c, asked, sums, facts) for c in known.children)
            figure = self._from_children(pcode, tuple(c for c in children if not c.empty), flows)
            parts = [c.parts or {} for c in figure.children]
        if self.dimension is not None:
            parts.append(flows[0].parts or {})
            figure = replace(figure, parts=added(parts))
        self._memo[pcode] = figure
        return figure

    def _flows(
        self,
        query: FlowQuery,
        sums: dict[FlowQuery, FlowSum],
        facts: dict[FlowQuery, list[Fact]],
    ) -> tuple[FlowSum, tuple[Fact, ...]]:
        if not self.detail:
            return sums[query], ()
        found = tuple(facts[query])
        total = FlowSum(
            individuals=sum(f.signed_individuals for f in found),
            households=sum(f.signed_households or 0 for f in found),
            records=len(found),
            without_households=sum(1 for f in found if f.households is None),
            bounds=sum((f.bounds for f in found), Bounds()),
        )
        return total, found

    def _from_baseline(
        self, pcode: str, candidates: list[Fact], flows: tuple[FlowSum, tuple[Fact, ...]]
    ) -> Figure:
        baseline = candidates[-1]
        total, flow_facts = flows
        records = 1 + total.records
        without = total.without_households + (1 if baseline.households is None else 0)
        households = None
        if without == 0 and baseline.households is not None:
            households = baseline.households + total.households
        individuals = baseline.individuals + total.individuals
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
            flow_sum=total,
            records=records,
            without_households=without,
            bounds=baseline.bounds + total.bounds,
        )

    def _from_children(
        self, pcode: str, children: tuple[Figure, ...], flows: tuple[FlowSum, tuple[Fact, ...]]
    ) -> Figure:
        own, own_facts = flows
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
            bounds=sum((c.bounds for c in children), own.bounds),
        )


def added(parts: list[dict[str, int]]) -> dict[str, int]:
    """Parts added value by value."""
    out: dict[str, int] = {}
    for some in parts:
        for value, individuals in some.items():
            out[value] = out.get(value, 0) + individuals
    return out


def _household_notes(without: int, records: int) -> list[str]:
    if without == 0 or records == 0:
        return []
    return [f"households unknown for {without} of {records} records"]


def _negative_notes(individuals: int) -> list[str]:
    if individuals >= 0:
        return []
    return ["negative: recorded returns exceed the baseline and registrations"]
