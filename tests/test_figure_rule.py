"""Every branch of the figure rule (docs/design.md), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

from ledger.application import Ledger
from ledger.dates import utc_now
from projections.totals import Moment, Totals
from tests import scenario
from tests.reading import totals as totals_of
from tests.reading import versions_of


def totals(
    ledger: Ledger,
    as_of: str,
    location: str = "MLI",
    by: str | None = None,
    known_at: datetime | None = None,
) -> Totals:
    moment = Moment(date.fromisoformat(as_of), known_at or utc_now())
    [result] = totals_of(ledger, moment, location, by)
    return result


def rows(result: Totals) -> dict[str | None, int]:
    return {line.pcode: line.individuals for line in result.rows or ()}


def test_baseline_at_parent_plus_flows_below_after_it(ledger: Ledger) -> None:
    scenario.run(
        ledger,
        """
        2017-12 assessment MLI 38172 hh=7716
        2017-11 registration Mopti 999
        2017-12 registration Mopti 111
        2018-01 registration Mopti 2000
        2018-01 registration Menaka 3164
        2018-02 return Gao 500
        2018-04 registration Gao 7000
    """,
    )
    result = totals(ledger, "2018-02-28")
    assert result.total.individuals == 38172 + 2000 + 3164 - 500
    assert result.total.partial is False


def test_flows_dated_on_the_baseline_day_are_part_of_the_baseline(ledger: Ledger) -> None:
    scenario.run(
        ledger,
        """
        2017-12-31 assessment MLI 100
        2017-12-31 registration Mopti 50
    """,
    )
    assert totals(ledger, "2017-12-31").total.individuals == 100


def test_baseline_at_children_only_sums_them_and_is_complete(ledger: Ledger) -> None:
    scenario.run(
        ledger,
        """
        2017-12 assessment Mopti 2151 hh=400
        2017-12 assessment Gao 1000 hh=200
        2018-01 registration Gao 10 hh=2
    """,
    )
    result = totals(ledger, "2018-01-31", by="admin1")
    assert result.total.individuals == 3161
    assert result.total.households == 602
    assert result.total.partial is False
    assert rows(result)["ML05"] == 2151 and rows(result)["ML07"] == 1010
    assert rows(result)[None] == 0


def test_baseline_at_both_levels_reconciles_with_not_disaggregated(ledger: Ledger) -> None:
    scenario.run(
        ledger,
        """
        2017-12 assessment MLI 38172
        2017-12 assessment Mopti 2151
        2018-01 registration Mopti 2000
    """,
    )
    result = totals(ledger, "2018-01-31", by="admin1")
    assert result.total.individuals == 40172
    assert rows(result)["ML05"] == 4151
    assert rows(result)[None] == 40172 - 4151
    assert sum(rows(result).values()) == result.total.individuals


def test_children_exceeding_the_parent_give_a_negative_line_with_a_warning(
    ledger: Ledger,
) -> None:
    scenario.run(
        ledger,
        """
        2017-12 assessment MLI 1000
        2017-12 assessment Mopti 1500
    """,
    )
    result = totals(ledger, "2017-12-31", by="admin1")
    [line] = [r for r in result.rows or () if r.pcode is None]
    assert line.individuals == -500
    assert any("sources disagree" in n for n in line.notes)
    assert sum(rows(result).values()) == 1000


def test_flows_without_any_baseline_are_partial_with_the_reason(ledger: Ledger) -> None:
    scenario.run(
        ledger,
        """
        2018-01 registration Menaka 3164
        2018-02 return Menaka 164
    """,
    )
    region = totals(ledger, "2018-02-28", location="Menaka")
    assert region.total.individuals == 3000
    assert region.total.partial is True
    assert "no baseline on or before 2018-02-28" in region.total.notes
    country = totals(ledger, "2018-02-28")
    assert country.total.partial is True and country.total.individuals == 3000


def test_a_location_with_neither_contributes_nothing(ledger: Ledger) -> None:
    scenario.run(ledger, "2017-12 assessment Mopti 10")
    result = totals(ledger, "2017-12-31", by="admin1")
    assert rows(result)["ML01"] == 0
    assert result.total.individuals == 10 and result.total.partial is False


def test_before_any_figure_the_total_is_zero_and_says_so(ledger: Ledger) -> None:
    scenario.run(ledger, "2017-12 assessment MLI 38172")
    result = totals(ledger, "2017-01-31")
    assert result.total.individuals == 0
    assert result.total.notes == ("no figures on or before 2017-01-31",)


def test_same_day_assessments_the_one_recorded_last_is_the_baseline(ledger: Ledger) -> None:
    scenario.run(
        ledger,
        """
        2017-12 assessment MLI 38000 src="first"
        2017-12 assessment MLI 38172 src="second"
    """,
    )
    result = totals(ledger, "2017-12-31")
    assert result.total.individuals == 38172
    assert any("superseded" in n for n in result.total.notes)


def test_households_are_unknown_unless_every_part_has_them(ledger: Ledger) -> None:
    scenario.run(
        ledger,
        """
        2017-12 assessment MLI 38172 hh=7716
        2018-01 registration Mopti 2000 hh=400
        2018-01 registration Gao 100
    """,
    )
    result = totals(ledger, "2018-01-31")
    assert result.total.households is None
    assert "households unknown for 1 of 3 records" in result.total.notes
    earlier = totals(ledger, "2017-12-31")
    assert earlier.total.households == 7716


def test_a_correction_moving_a_record_moves_its_figure(ledger: Ledger) -> None:
    ids = scenario.run(
        ledger,
        """
        2017-12 assessment Mopti 100
        2017-12 assessment Gao 100
        moved: 2018-01 registration Mopti 50
    """,
    )
    ledger.correct(ids["moved"], location="Gao", reason="was registered in Gao")
    result = totals(ledger, "2018-01-31", by="admin1")
    assert rows(result)["ML05"] == 100 and rows(result)["ML07"] == 150


def test_a_correction_changes_today_but_not_known_at_before_it(ledger: Ledger) -> None:
    ids = scenario.run(ledger, "dec: 2017-12 assessment MLI 38172")
    before = utc_now()
    ledger.correct(ids["dec"], individuals="38000", reason="typo")
    assert totals(ledger, "2017-12-31").total.individuals == 38000
    assert totals(ledger, "2017-12-31", known_at=before).total.individuals == 38172


def test_a_retraction_leaves_the_totals_but_not_the_history(ledger: Ledger) -> None:
    ids = scenario.run(
        ledger,
        """
        2017-12 assessment MLI 38172
        dup: 2018-01 registration Mopti 2000
    """,
    )
    ledger.retract(ids["dup"], reason="duplicate of the IOM figure")
    assert totals(ledger, "2018-01-31").total.individuals == 38172
    assert [v.action for v in versions_of(ledger, ids["dup"])] == ["recorded", "retracted"]


def test_a_correction_of_the_date_moves_a_flow_across_the_baseline(ledger: Ledger) -> None:
    ids = scenario.run(
        ledger,
        """
        2017-12 assessment MLI 100
        late: 2018-01 registration Mopti 10
    """,
    )
    ledger.correct(ids["late"], date="2017-11", reason="registered before the round")
    assert totals(ledger, "2018-01-31").total.individuals == 100


def test_a_period_dated_past_the_day_it_was_recorded_counts_as_known_then(
    ledger: Ledger,
) -> None:
    """A year-precision figure stands for 31 December, later than the day it is recorded:
    the date bound the queries use for "as known at" (the lead horizon) must keep it."""
    year = utc_now().year
    written = ledger.record(
        kind="assessment",
        location="Mopti",
        date=str(year),
        individuals=5_000,
        source={"publisher": "DTM"},
    )
    known_at = utc_now()
    (totals,) = totals_of(ledger, Moment(date(year, 12, 31), known_at), "Mopti")
    assert totals.total.individuals == 5_000
    before = Moment(date(year, 12, 31), datetime.fromtimestamp(0).astimezone())
    (earlier,) = totals_of(ledger, before, "Mopti")
    assert earlier.total.individuals == 0
    assert ledger.get_record(written.record_id).individuals == 5_000
