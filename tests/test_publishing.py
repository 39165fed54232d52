"""Publishing as IM teams do it (issue 16): roles, quantifiers, households, review and
sign-off, on the Mali example, with the numbers worked out by hand, on both backends."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.command_line import dledger, event_count

AS_OF = "2018-02-28"


def ok(db: str, *args: str) -> str:
    outcome = dledger(db, *args)
    assert outcome.code == 0, outcome.stderr
    return outcome.stdout


def refused(db: str, args: list[str], message: str, code: int = 1) -> None:
    before = event_count(db)
    outcome = dledger(db, *args)
    assert outcome.code == code, outcome
    assert outcome.stderr.startswith("error: ") and message in outcome.stderr, outcome.stderr
    assert outcome.stderr.count("\n") == 1 and outcome.stdout == ""
    assert event_count(db) == before


def totals(db: str, *args: str) -> dict[str, Any]:
    return json.loads(ok(db, "totals", "--as-of", AS_OF, "--format", "json", *args))


def explained(db: str, place: str = "Mali", *args: str) -> dict[str, Any]:
    return json.loads(ok(db, "explain", place, "--as-of", AS_OF, "--format", "json", *args))


@pytest.fixture
def demo(db_target: str) -> dict[str, str]:
    """The running example: Mali 38,172 in December 2017, four regions' registrations."""
    data = json.loads(ok(db_target, "demo", "--format", "json"))
    ids = {r["location"]["pcode"]: r["record_id"] for r in data["records"]}
    return {"db": db_target, **ids}


def record(db: str, *args: str) -> str:
    return ok(db, "record", *args).strip()


# -- role --------------------------------------------------------------------------------


def test_a_triangulation_figure_is_listed_beside_and_never_counted(demo: dict[str, str]) -> None:
    db = demo["db"]
    other = record(db, "assessment", "--location", "MLI", "--date", "2017-12", "--individuals",
                   "40000", "--source", "OCHA", "--role", "triangulation")  # fmt: skip
    assert totals(db)["total"]["individuals"] == 46336  # the IOM figure stays the baseline
    data = explained(db)
    assert data["baseline"]["source"]["publisher"] != "OCHA"
    assert [v["record_id"] for v in data["triangulation"]] == [other]
    assert data["triangulation"][0]["role"] == "triangulation"
    assert "triangulation (not counted): 40,000" in ok(db, "explain", "Mali", "--as-of", AS_OF)


# -- quantifier --------------------------------------------------------------------------


def test_one_more_than_registration_makes_the_national_total_more_than(
    demo: dict[str, str],
) -> None:
    db = demo["db"]
    record(db, "registration", "--location", "ML07", "--date", "2018-02-10",
           "--individuals", "500", "--source", "DTM", "--quantifier", "more-than")  # fmt: skip
    data = totals(db, "--by", "admin1")
    assert (data["total"]["individuals"], data["total"]["quantifier"]) == (46836, "more-than")
    rows = {r["pcode"]: r for r in data["rows"]}
    assert rows["ML07"]["quantifier"] == "more-than" and rows["ML05"]["quantifier"] == "exact"
    # the rest is the national figure less Gao's: two lower bounds, no direction left
    assert rows[None]["quantifier"] == "approximately"
    table = ok(db, "totals", "--as-of", AS_OF)
    assert "> 46,836" in table


def test_mixed_bounds_are_approximately_and_a_return_turns_a_bound_around(
    demo: dict[str, str],
) -> None:
    db = demo["db"]
    record(db, "return", "--location", "ML07", "--date", "2018-02-10", "--individuals", "100",
           "--source", "DTM", "--quantifier", "more-than")  # fmt: skip
    gao = totals(db, "--location", "ML07")["total"]
    assert (gao["individuals"], gao["quantifier"]) == (1064, "less-than")  # more left
    record(db, "registration", "--location", "ML07", "--date", "2018-02-11",
           "--individuals", "10", "--source", "DTM", "--quantifier", "more-than")  # fmt: skip
    assert totals(db, "--location", "ML07")["total"]["quantifier"] == "approximately"


def test_a_quantifier_can_be_corrected_and_a_bad_one_is_refused(demo: dict[str, str]) -> None:
    db = demo["db"]
    ok(db, "correct", demo["ML07"], "--quantifier", "approximately", "--reason", "estimate")
    assert totals(db)["total"]["quantifier"] == "approximately"
    refused(db, ["record", "registration", "--location", "ML07", "--date", "2018-02-10",
                 "--individuals", "5", "--source", "x", "--quantifier", "about"],
            "quantifier 'about' is not one of exact, approximately, more-than, "
            "less-than")  # fmt: skip
    refused(db, ["record", "registration", "--location", "ML07", "--date", "2018-02-10",
                 "--individuals", "5", "--source", "x", "--role", "main"],
            "role 'main' is not one of recommended, triangulation")  # fmt: skip
