"""The figure rule's branches on facts held in memory (no database): docs/design.md's rule, one
test per branch, and the batched rule against the rule written one location at a time."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.locations import LocationIndex
from projections.figures import Figure, FigureRule
from projections.totals import Moment, totals_of
from tests.facts_in_memory import InMemoryFacts, Log, plain_figure


@functools.cache
def mali() -> LocationIndex:
    from ledger.reference import mali_locations

    return LocationIndex(mali_locations())


def figure(log: Log, pcode: str, as_of: str, known_at: int | None = None) -> Figure:
    facts = InMemoryFacts(log.rows, known_at if known_at is not None else log.now())
    return FigureRule(facts, log.index, date.fromisoformat(as_of)).figure(pcode)


def by_admin1(log: Log, as_of: str) -> dict[str | None, int]:
    facts = InMemoryFacts(log.rows, log.now())
    rule = FigureRule(facts, log.index, date.fromisoformat(as_of))
    when = Moment(date.fromisoformat(as_of), date.today())  # type: ignore[arg-type]
    [result] = totals_of(rule, when, 0, [log.index.get("MLI")], 1)
    return {line.pcode: line.individuals for line in result.rows or ()}


def test_a_baseline_plus_the_flows_below_it_after_its_date() -> None:
    log = Log(mali())
    log.record("assessment", "MLI", "2017-12-31", 38172, 7716)
    log.record("registration", "ML05", "2017-11-30", 999)  # before the baseline
    log.record("registration", "ML05", "2018-01-31", 2000)
    log.record("registration", "ML0506", "2018-01-31", 100)  # a cercle, two levels below
    log.record("return", "ML07", "2018-02-15", 500)
    log.record("registration", "ML07", "2018-04-30", 7000)  # after the date asked
    result = figure(log, "MLI", "2018-02-28")
    assert result.individuals == 38172 + 2000 + 100 - 500
    assert result.households is None and result.partial is False
    assert result.notes == ("households unknown for 3 of 4 records",)


def test_flows_on_the_baseline_day_are_part_of_the_baseline() -> None:
    log = Log(mali())
    log.record("assessment", "MLI", "2017-12-31", 100)
    log.record("registration", "ML05", "2017-12-31", 50)
    assert figure(log, "MLI", "2017-12-31").individuals == 100


def test_without_a_baseline_the_children_add_up_and_households_when_all_have_them() -> None:
    log = Log(mali())
    log.record("assessment", "ML05", "2017-12-31", 2151, 400)
    log.record("assessment", "ML07", "2017-12-31", 1000, 200)
    log.record("registration", "ML07", "2018-01-31", 10, 2)
    result = figure(log, "MLI", "2018-01-31")
    assert (result.individuals, result.households, result.partial) == (3161, 602, False)
    assert [c.pcode for c in result.children] == ["ML05", "ML07"]


def test_flows_without_a_baseline_are_partial_and_say_so() -> None:
    log = Log(mali())
    log.record("registration", "ML10", "2018-01-31", 2500)
    region = figure(log, "ML10", "2018-02-28")
    assert (region.individuals, region.partial) == (2500, True)
    assert region.notes[0] == "no baseline on or before 2018-02-28"
    country = figure(log, "MLI", "2018-02-28")
    assert country.partial and country.notes[0] == "rests on flows without a baseline at Menaka"


def test_the_breakdown_reconciles_with_the_parent_even_when_it_exceeds_it() -> None:
    log = Log(mali())
    log.record("assessment", "MLI", "2017-12-31", 1000)
    log.record("assessment", "ML05", "2017-12-31", 700)
    log.record("assessment", "ML07", "2017-12-31", 600)
    rows = by_admin1(log, "2017-12-31")
    assert rows["ML05"] == 700 and rows["ML07"] == 600
    assert rows[None] == -300 and sum(rows.values()) == 1000


def test_of_assessments_on_one_day_the_one_recorded_last_is_the_baseline() -> None:
    log = Log(mali())
    log.record("assessment", "ML05", "2017-12-31", 2000)
    log.record("assessment", "ML05", "2017-12-31", 2151)
    result = figure(log, "ML05", "2017-12-31")
    assert result.individuals == 2151 and len(result.superseded) == 1
    assert "superseded by the one recorded last" in result.notes[0]


def test_a_correction_changes_today_but_not_what_was_known_before_it() -> None:
    log = Log(mali())
    record = log.record("assessment", "MLI", "2017-12-31", 38172)
    before = log.now()
    log.correct(record, individuals=38000)
    assert figure(log, "MLI", "2017-12-31").individuals == 38000
    assert figure(log, "MLI", "2017-12-31", known_at=before).individuals == 38172


def test_a_retracted_record_leaves_the_figure() -> None:
    log = Log(mali())
    log.record("assessment", "MLI", "2017-12-31", 38172)
    gone = log.record("registration", "ML05", "2018-01-31", 2000)
    log.retract(gone)
    assert figure(log, "MLI", "2018-01-31").individuals == 38172


def test_a_record_moved_by_a_correction_counts_where_it_is_now() -> None:
    log = Log(mali())
    moved = log.record("registration", "ML05", "2018-01-31", 300)
    log.correct(moved, pcode="ML07")
    assert figure(log, "ML05", "2018-02-28").empty
    assert figure(log, "ML07", "2018-02-28").individuals == 300


def test_returns_beyond_the_stock_give_a_negative_figure_with_a_note() -> None:
    log = Log(mali())
    log.record("assessment", "ML07", "2017-12-31", 100)
    log.record("return", "ML07", "2018-01-31", 150)
    result = figure(log, "ML07", "2018-01-31")
    assert result.individuals == -50 and result.notes[-1].startswith("negative:")


def test_a_location_with_no_figures_is_empty() -> None:
    log = Log(mali())
    log.record("assessment", "ML05", "2019-12-31", 10)
    assert figure(log, "ML05", "2018-12-31").empty
    assert figure(log, "MLI", "2018-12-31").empty


# few places and days, so records collide: baselines with flows below them, several on a day
PLACES = ["MLI", "ML05", "ML07", "ML0506", "ML0501", "ML0703"]
DAYS = [f"2017-{m:02d}-28" for m in range(1, 13, 2)]
record = st.tuples(
    st.just("record"),
    st.sampled_from(["assessment", "assessment", "registration", "return"]),
    st.sampled_from(PLACES),
    st.sampled_from(DAYS),
    st.integers(0, 5000),
    st.one_of(st.none(), st.integers(0, 50)),
)
step = st.one_of(
    record, record, record,
    st.tuples(st.just("correct"), st.integers(0, 30), st.integers(0, 5000)),
    st.tuples(st.just("move"), st.integers(0, 30), st.sampled_from(PLACES)),
    st.tuples(st.just("retract"), st.integers(0, 30)),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(step, min_size=2, max_size=25), st.sampled_from(DAYS[2:]), st.data())
def test_the_batched_rule_gives_the_rule_as_written(
    steps: list[tuple[object, ...]], as_of: str, data: st.DataObject
) -> None:
    """Any log, any date, any instant, any order of asking: the rule that asks a level at
    a time gives every location the figure the plain recursive rule gives."""
    log = Log(mali())
    ids: list[str] = []
    gone: set[str] = set()
    instants = []
    for s in steps:
        if s[0] == "record":
            ids.append(log.record(*s[1:]))  # type: ignore[arg-type]
        elif ids and (rid := ids[int(s[1]) % len(ids)]) not in gone:  # type: ignore[call-overload]
            if s[0] == "correct":
                log.correct(rid, individuals=s[2])
            elif s[0] == "move":
                log.correct(rid, pcode=s[2])
            else:
                log.retract(rid)
                gone.add(rid)
        instants.append(log.now())
    known_at = data.draw(st.sampled_from(instants))
    facts = InMemoryFacts(log.rows, known_at)
    day = date.fromisoformat(as_of)
    order = list(data.draw(st.permutations(PLACES)))
    first = data.draw(st.integers(0, len(order)))  # asked in two calls: some memoised
    sums = FigureRule(facts, log.index, day)
    shown = FigureRule(facts, log.index, day, detail=True)
    for rule in (sums, shown):
        rule.figures(order[:first])
    sums, shown = sums.figures(order[first:] + order[:first]), shown.figures(order)
    for pcode in PLACES:
        plain = plain_figure(facts, log.index, day, pcode)
        for ours in (sums[pcode], shown[pcode]):
            assert (ours.individuals, ours.households, ours.partial) == (
                plain.individuals, plain.households, plain.partial
            ), pcode  # fmt: skip
        assert _shown(shown[pcode]) == plain.records, pcode


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(step, st.integers(0, 5000)), min_size=2, max_size=25),
       st.sampled_from(DAYS[2:]), st.data())  # fmt: skip
def test_a_breakdown_is_the_rule_applied_part_by_part(
    steps: list[tuple[tuple[object, ...], int]], as_of: str, data: st.DataObject
) -> None:
    """Any log whose records carry some women among their individuals: the breakdown's
    part for women is the figure the plain rule gives when each record counts its women,
    and the rest (not disaggregated) is the figure less the parts."""
    log = Log(mali())
    ids: list[str] = []
    for s, women in steps:
        if s[0] == "record":
            kind, pcode, day, individuals, households = s[1:]  # type: ignore[misc]
            some = {"sex": {"female": min(women, individuals)}} if women % 3 else {}
            ids.append(log.record(kind, pcode, day, individuals, households, some))
        elif ids and s[0] == "correct":
            log.correct(ids[int(s[1]) % len(ids)], individuals=s[2])  # type: ignore[call-overload]
    facts = InMemoryFacts(log.rows, log.now())
    day = date.fromisoformat(as_of)
    rule = FigureRule(facts, log.index, day, dimension="sex")
    order = list(data.draw(st.permutations(PLACES)))
    figures = rule.figures(order)
    women = InMemoryFacts(
        [replace(r, fact=replace(r.fact, individuals=r.parts.get("sex", {}).get("female", 0)))
         for r in log.rows],
        log.now(),
    )  # fmt: skip
    for pcode in PLACES:
        expected = plain_figure(women, log.index, day, pcode).individuals
        assert (figures[pcode].parts or {}).get("female", 0) == expected, pcode


def test_the_batched_rule_keeps_the_facts_it_rests_on_when_explaining() -> None:
    log = Log(mali())
    log.record("assessment", "ML05", "2017-12-31", 2151)
    log.record("registration", "ML0506", "2018-01-31", 20)
    log.record("registration", "ML10", "2018-01-31", 2500)
    facts = InMemoryFacts(log.rows, log.now())
    rule = FigureRule(facts, log.index, date(2018, 2, 28), detail=True)
    country = rule.figure("MLI")
    shown = _shown(country)
    assert shown == plain_figure(facts, log.index, date(2018, 2, 28), "MLI").records
    assert country.individuals == 2151 + 20 + 2500


def _shown(figure: Figure) -> frozenset[tuple[str, int]]:
    facts = [figure.baseline] if figure.baseline else []
    facts += [*figure.flows]
    found = {(f.record_id, f.version) for f in facts if f is not None}
    for child in figure.children:
        found |= _shown(child)
    return frozenset(found)
