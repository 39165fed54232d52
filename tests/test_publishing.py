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


# -- households --------------------------------------------------------------------------


def test_households_only_are_converted_by_the_size_in_force(demo: dict[str, str]) -> None:
    db = demo["db"]
    args = ["record", "registration", "--location", "ML07", "--date", "2018-02-12",
            "--households", "100", "--source", "DTM"]  # fmt: skip
    refused(db, args, "no household size for MLI in or before 2018")
    ok(db, "household-size", "set", "Mali", "--year", "2017", "--size", "5.2",
       "--source", "DHS 2018")  # fmt: skip
    rid = record(db, *args[1:])
    gao = explained(db, "ML07")
    [flow] = [f for f in gao["flows"] if f["record_id"] == rid]
    assert (flow["individuals"], flow["households"]) == (520, 100)
    assert flow["conversion"] == {
        "households": 100, "size": "5.2", "country": "MLI", "year": 2017, "for_year": 2018,
        "nearest": True, "source": "DHS 2018",
    }  # fmt: skip
    tree = ok(db, "explain", "ML07", "--as-of", AS_OF)
    assert "100 households × 5.2 = 520 individuals (household size for MLI 2017, DHS 2018" in tree
    before = json.loads(ok(db, "history", rid, "--format", "json"))["versions"][0]["recorded_at"]
    ok(db, "household-size", "set", "MLI", "--year", "2018", "--size", "5", "--source", "MICS")
    assert totals(db, "--location", "ML07")["total"]["individuals"] == 1164 + 500
    then = totals(db, "--location", "ML07", "--known-at", before)["total"]["individuals"]
    assert then == 1164 + 520  # what the ledger said before the new size
    listed = json.loads(ok(db, "household-size", "list", "Mali", "--format", "json"))
    assert [(s["year"], s["size"]) for s in listed] == [(2017, "5.2"), (2018, "5")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--year", "2018", "--size", "0", "--source", "x"], "--size must be more than 0"),
        (["--year", "2018", "--size", "five", "--source", "x"], "--size 'five' is not a number"),
        (["--year", "1200", "--size", "5", "--source", "x"], "--year must be a year from 1900"),
    ],
)
def test_a_bad_household_size_is_refused(
    demo: dict[str, str], args: list[str], message: str
) -> None:
    refused(demo["db"], ["household-size", "set", "MLI", *args], message)


def test_a_household_size_is_for_a_country(demo: dict[str, str]) -> None:
    refused(demo["db"], ["household-size", "set", "Gao", "--year", "2018", "--size", "5",
                         "--source", "x"], "Gao (ML07) is not a country")  # fmt: skip


# -- review ------------------------------------------------------------------------------


def test_approved_only_counts_each_record_at_its_latest_approved_version(
    demo: dict[str, str],
) -> None:
    db = demo["db"]
    national, gao, mopti = demo["MLI"], demo["ML07"], demo["ML05"]
    assert totals(db, "--approved-only")["total"]["individuals"] == 0
    ok(db, "review", national, gao, "--status", "approved", "--comment", "checked")
    data = totals(db, "--approved-only")
    assert data["total"]["individuals"] == 38172 + 1164
    assert "5 record version(s) in MLI wait for review" in data["total"]["notes"][-1]
    ok(db, "correct", gao, "--individuals", "964", "--reason", "double count")
    assert totals(db, "--approved-only")["total"]["individuals"] == 38172 + 1164  # waits
    assert totals(db)["total"]["individuals"] == 46336 - 200
    ok(db, "review", gao, "--status", "approved")
    assert totals(db, "--approved-only")["total"]["individuals"] == 38172 + 964
    tree = json.loads(ok(db, "explain", "Mali", "--as-of", AS_OF, "--approved-only",
                         "--format", "json"))  # fmt: skip
    assert tree["individuals"] == 38172 + 964
    assert [f["individuals"] for f in tree["flows"]] == [964]
    assert "wait for review" in tree["notes"][-1]
    ok(db, "review", gao, "--status", "rejected", "--comment", "wrong")
    assert totals(db, "--approved-only")["total"]["individuals"] == 38172
    history = json.loads(ok(db, "history", gao, "--format", "json"))["versions"]
    assert [r["status"] for r in history[1]["reviews"]] == ["approved", "rejected"]
    assert history[0]["reviews"][0]["comment"] == "checked"
    assert "review: approved by amina" in ok(db, "explain", "Mali", "--as-of", AS_OF)
    ok(db, "review", mopti, "--status", "changes-requested")
    assert totals(db, "--approved-only")["total"]["individuals"] == 38172
    ok(db, "rebuild")
    assert totals(db, "--approved-only")["total"]["individuals"] == 38172


def test_a_bad_review_is_refused(demo: dict[str, str]) -> None:
    db = demo["db"]
    refused(db, ["review", demo["MLI"], "--status", "fine"],
            "--status 'fine' is not one of approved, changes-requested, rejected")  # fmt: skip
    refused(db, ["review", "00000000-0000-0000-0000-000000000000", "--status", "approved"],
            "no figure record with id")  # fmt: skip


# -- sign-off ----------------------------------------------------------------------------


def test_a_signed_off_snapshot_names_each_change_made_after_it(
    demo: dict[str, str], tmp_path: Any
) -> None:
    db = demo["db"]
    ok(db, "snapshot", "create", "feb", "--as-of", AS_OF, "--location", "MLI", "--by", "admin1")
    key = tmp_path / "release"
    ok(db, "keygen", "--out", str(key))
    ok(db, "snapshot", "sign", "feb", "--key", str(key))
    ok(db, "correct", demo["ML07"], "--individuals", "964", "--reason", "double count")
    ok(
        db,
        "record",
        "registration",
        "--location",
        "ML08",
        "--date",
        "2019-01",
        "--individuals",
        "50",
        "--source",
        "x",
    )  # fmt: skip  (after the as-of: no change)
    shown = json.loads(ok(db, "snapshot", "show", "feb", "--format", "json"))
    off = shown["signed_off"]
    assert off["actor"] == "amina" and off["checkpoint"]["position"] == shown["position"]
    assert off["signature"] and off["statement"].startswith("dledger sign-off v1\nsnapshot feb")
    [change] = shown["changed_since_sign_off"]
    assert (change["record_id"], change["field"], change["old"], change["new"]) == (
        demo["ML07"], "individuals", 1164, 964,
    )  # fmt: skip
    assert change["reason"] == "double count" and change["actor"] == "amina"
    figures = {f["pcode"]: (f["then"], f["now"]) for f in shown["figures_changed_since_sign_off"]}
    assert figures == {"ML07": (1164, 964), "MLI": (46336, 46136)}
    assert shown["result"]["total"]["individuals"] == 46336  # the release itself is kept
    refused(db, ["snapshot", "sign", "feb"], "snapshot 'feb' was signed off already")
    refused(db, ["snapshot", "sign", "nosuch"], "no snapshot named 'nosuch'")


def test_a_signature_checks_against_its_public_key(demo: dict[str, str], tmp_path: Any) -> None:
    import base64

    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    db = demo["db"]
    ok(db, "snapshot", "create", "feb", "--as-of", AS_OF)
    key = tmp_path / "release"
    ok(db, "keygen", "--out", str(key))
    ok(db, "snapshot", "sign", "feb", "--key", str(key))
    off = json.loads(ok(db, "snapshot", "show", "feb", "--format", "json"))["signed_off"]
    public = load_pem_public_key(key.with_suffix(".pub").read_bytes())
    public.verify(base64.b64decode(off["signature"]), off["statement"].encode())  # type: ignore[union-attr]
