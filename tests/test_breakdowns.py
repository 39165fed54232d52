"""Breakdowns by sex, age, cause and origin: recorded, corrected, added up by the figure
rule part by part, kept by imports and exports (issue 17), on both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.command_line import dledger, event_count


def ok(db: str, *args: str) -> str:
    outcome = dledger(db, *args)
    assert outcome.code == 0, outcome.stderr
    return outcome.stdout


def record(db: str, kind: str, location: str, date: str, individuals: int, *parts: str) -> str:
    args = ["record", kind, "--location", location, "--date", date,
            "--individuals", str(individuals), "--source", "IOM DTM"]  # fmt: skip
    for part in parts:
        args += ["--breakdown", part]
    return ok(db, *args).strip()


def totals(db: str, *args: str) -> dict[str, Any]:
    return json.loads(ok(db, "totals", "--format", "json", *args))


def parts(line: dict[str, Any]) -> dict[str | None, int]:
    return {p["value"]: p["individuals"] for p in line["breakdown"]["parts"]}


@pytest.fixture
def mali(db_target: str) -> str:
    ok(db_target, "init")
    return db_target


def test_a_breakdown_adds_up_by_the_figure_rule_part_by_part(mali: str) -> None:
    record(mali, "assessment", "Mali", "2017-12", 38172, "sex:female=20000", "sex:male=18000")
    record(mali, "registration", "Mopti", "2018-01", 3000, "sex:f=1600", "sex:m=1400")
    record(mali, "registration", "Gao", "2018-01", 5164)  # no breakdown: not disaggregated
    record(mali, "return", "Gao", "2018-02", 1000, "sex:female=600")
    total = totals(mali, "--as-of", "2018-02-28", "--breakdown", "sex")["total"]
    assert total["individuals"] == 38172 + 3000 + 5164 - 1000
    assert parts(total) == {"female": 21000, "male": 19400, None: 46336 - 1000 - 40400}
    assert sum(parts(total).values()) == total["individuals"]


def test_rows_and_their_reconciliation_add_up_column_by_column(mali: str) -> None:
    record(mali, "assessment", "Mali", "2017-12", 38172, "origin:Gao=10000", "origin:ML06=2000")
    record(mali, "registration", "Mopti", "2018-01", 3000, "origin:Gao=2500")
    record(mali, "assessment", "Ménaka", "2018-01", 800, "origin:ML07=300", "cause:Conflict=800")
    report = totals(mali, "--as-of", "2018-02-28", "--by", "admin1", "--breakdown", "origin")
    rows = {r["pcode"]: r for r in report["rows"]}
    assert parts(rows["ML05"]) == {"ML07": 2500, None: 500}
    assert parts(rows["ML10"]) == {"ML07": 300, None: 500}
    assert [p.get("name") for p in rows["ML05"]["breakdown"]["parts"]] == ["Gao", None]
    assert parts(report["total"]) == {"ML07": 12500, "ML06": 2000, None: 41172 - 14500}
    for value in ("ML07", "ML06", None):  # each column adds up to the total's part
        assert sum(parts(r).get(value, 0) for r in report["rows"]) == parts(report["total"])[value]


def test_breakdowns_follow_corrections_and_known_at(mali: str) -> None:
    rid = record(mali, "assessment", "Mali", "2017-12", 38172, "sex:female=20000")
    before = dledger(mali, "history", rid, "--format", "json")
    ok(mali, "correct", rid, "--breakdown", "sex:male=18000", "--reason", "males reported")
    known = json.loads(before.stdout)["versions"][0]["recorded_at"]
    now = totals(mali, "--as-of", "2017-12-31", "--breakdown", "sex")["total"]
    then = totals(mali, "--as-of", "2017-12-31", "--known-at", known, "--breakdown", "sex")["total"]
    assert parts(now) == {"female": 20000, "male": 18000, None: 172}
    assert parts(then) == {"female": 20000, None: 18172}
    ok(mali, "correct", rid, "--clear-breakdown", "sex", "--reason", "withdrawn")
    assert parts(totals(mali, "--as-of", "2017-12-31", "--breakdown", "sex")["total"]) == {
        None: 38172
    }
    ok(mali, "rebuild")
    assert parts(totals(mali, "--as-of", "2017-12-31", "--known-at", known, "--breakdown",
                        "sex")["total"]) == {"female": 20000, None: 18172}  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sex:female=30000", "sex:male=9000"],
         "breakdown sex: the parts add up to 39,000, more than the record's 38,172 individuals"),
        (["age:0-4=10", "age:3-17=10"], "breakdown age: bands 0-4 and 3-17 overlap"),
        (["height:tall=3"], "breakdown dimension 'height' is not one of sex, age, cause, origin"),
        (["sex:other=3"], "breakdown sex: 'other' is not female or male"),
        (["age:adults=3"], "breakdown age: 'adults' is not an age band such as 0-4, 18-59 or 60+"),
        (["sex:female"], "--breakdown 'sex:female' is not DIM:VALUE=N"),
        (["origin:Atlantis=5"], "breakdown origin: unknown location 'Atlantis'"),
        (["sex:female=-4"], "breakdown sex:female must be a whole number ≥ 0, got '-4'"),
    ],
)  # fmt: skip
def test_a_bad_breakdown_is_refused_naming_it(mali: str, args: list[str], message: str) -> None:
    before = event_count(mali)
    extra = [part for arg in args for part in ("--breakdown", arg)]
    outcome = dledger(mali, "record", "assessment", "--location", "Mali", "--date", "2017-12",
                      "--individuals", "38172", "--source", "IOM", *extra)  # fmt: skip
    assert outcome.code == 1 and outcome.stderr.startswith("error: ")
    assert message in outcome.stderr and outcome.stderr.count("\n") == 1
    assert event_count(mali) == before


def test_a_correction_must_leave_room_for_the_breakdowns(mali: str) -> None:
    rid = record(mali, "assessment", "Mali", "2017-12", 38172, "cause:Conflict=38000")
    before = event_count(mali)
    outcome = dledger(mali, "correct", rid, "--individuals", "30000", "--reason", "revised")
    assert outcome.code == 1
    assert "breakdown cause: the parts add up to 38,000, more than the record's 30,000" in (
        outcome.stderr
    )
    assert event_count(mali) == before


def test_explain_shows_each_records_parts(mali: str) -> None:
    record(mali, "assessment", "Mali", "2017-12", 38172, "sex:female=20000", "age:0-4=5000")
    tree = ok(mali, "explain", "Mali", "--as-of", "2017-12-31")
    assert "by sex: female 20,000" in tree and "by age: 0-4 5,000" in tree
    data = json.loads(ok(mali, "explain", "Mali", "--as-of", "2017-12-31", "--format", "json"))
    assert data["baseline"]["breakdowns"] == {"sex": {"female": 20000}, "age": {"0-4": 5000}}


def test_a_single_cause_counts_as_the_whole_record(mali: str) -> None:
    ok(mali, "record", "assessment", "--location", "Mali", "--date", "2017-12",
       "--individuals", "100", "--source", "IOM", "--cause", "Conflict")  # fmt: skip
    assert parts(totals(mali, "--as-of", "2017-12-31", "--breakdown", "cause")["total"]) == {
        "Conflict": 100, None: 0,
    }  # fmt: skip


# -- imports -----------------------------------------------------------------------------


def test_dtm_keeps_reason_origin_and_sex(mali: str, shared_data: Path) -> None:
    ok(mali, "import", str(shared_data / "dtm_afg_2017_hxl.csv"))
    first = totals(mali, "--location", "AFG", "--as-of", "2017-03-30", "--breakdown", "cause")
    assert first["total"]["individuals"] == 246362
    assert parts(first["total"]) == {
        "Conflict": 179956, "No reason for displacement reported": 66308,
        "Natural disaster": 98, None: 0,
    }  # fmt: skip
    second = totals(mali, "--location", "AFG", "--as-of", "2017-06-30", "--breakdown", "origin")
    assert parts(second["total"]) == {None: 945182}  # "Not available" is not a location
    third = totals(mali, "--location", "AFG", "--as-of", "2017-12-31", "--breakdown", "origin")
    assert {p["value"]: p.get("name") for p in third["total"]["breakdown"]["parts"]} == {
        "AF21": "Balkh", "AF09": "Baghlan", "AF33": "Farah", None: None,
    }  # fmt: skip
    ok(mali, "import", str(shared_data / "dtm_api_displacement-admin1-admin0pcode-hti.sample.json"))
    haiti = totals(mali, "--location", "HTI", "--as-of", "2010-11-30", "--by", "admin1",
                   "--breakdown", "sex")  # fmt: skip
    ouest = next(r for r in haiti["rows"] if r["pcode"] == "HT01")
    assert parts(ouest) == {"female": 554657, "male": 505192, None: 0}


def test_reimporting_into_records_without_breakdowns_corrects_them(
    mali: str, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.importing.checking import RowChecker

    with monkeypatch.context() as patched:  # a ledger written before breakdowns existed
        patched.setattr(RowChecker, "_breakdowns", lambda self, row, n, found: (None, []))
        patched.setattr(RowChecker, "carried", property(lambda self: ()))
        ok(mali, "import", str(shared_data / "dtm_afg_2017_hxl.csv"))
    outcome = dledger(mali, "import", str(shared_data / "dtm_afg_2017_hxl.csv"))
    assert outcome.code == 0 and "wrote: 14 corrected" in outcome.stderr
    again = dledger(mali, "import", str(shared_data / "dtm_afg_2017_hxl.csv"))
    assert "nothing to write" in again.stderr


GIDD = Path(__file__).resolve().parents[1] / "docs" / "examples"


def test_gidd_stocks_and_new_displacements(mali: str) -> None:
    outcome = dledger(mali, "import", str(GIDD / "idmc_gidd_conflict_MLI_hxl.csv"))
    assert outcome.code == 0 and "wrote: 22 new" in outcome.stderr
    total = totals(mali, "--location", "MLI", "--as-of", "2017-12-31")["total"]
    assert total["individuals"] == 38172  # the year-end stock, no new displacement added
    assert (
        totals(mali, "--location", "MLI", "--as-of", "2018-06-30")["total"]["individuals"] == 38172
    )  # 2018's new displacements are no registrations either
    data = json.loads(ok(mali, "explain", "MLI", "--as-of", "2017-12-31", "--format", "json"))
    assert data["baseline"]["date"] == "2017" and data["baseline"]["source"]["rounded"] == 38000
    flows = json.loads(ok(mali, "flows", "--location", "Mali", "--from", "2017", "--to", "2017",
                          "--format", "json"))  # fmt: skip
    assert flows["totals"]["new_displacement"] == 35131
    assert [r["source"]["publisher"] for r in flows["records"]] == ["IDMC"]
    plain = dledger(mali, "import", str(GIDD / "idmc_gidd_conflict_MLI.csv"))
    assert plain.code == 0 and "nothing to write" in plain.stderr  # same figures, same ids


def test_gidd_disaster_files_are_refused(mali: str, tmp_path: Path) -> None:
    path = tmp_path / "disasters.csv"
    path.write_text(
        "iso3,country_name,year,start_date,event_name,hazard_type,new_displacement,"
        "new_displacement_rounded,total_displacement,total_displacement_rounded\n"
        "MLI,Mali,2020,2020-08-01,Floods,Flood,100,100,,\n"
    )
    before = event_count(mali)
    outcome = dledger(mali, "import", str(path))
    assert outcome.code == 1 and "disaster file" in outcome.stderr
    assert event_count(mali) == before


def test_hapi_rounds_with_their_resource(mali: str, shared_data: Path, tmp_path: Path) -> None:
    outcome = dledger(mali, "import", str(shared_data / "hdx_hapi_idps_global.sample.csv"))
    assert outcome.code == 0, outcome.stderr
    for day, expected in (("2017-03-30", 246362), ("2017-06-30", 945182)):
        assert totals(mali, "--location", "AFG", "--as-of", day)["total"]["individuals"] == expected
    data = json.loads(ok(mali, "explain", "AFG", "--as-of", "2017-06-30", "--format", "json"))
    assert data["baseline"]["source"]["url"].endswith(
        "/resource/80911e9b-7527-469a-a545-4074860e1288"
    )
    assert data["location"]["name"] == "Afghanistan"  # from ISO 3166: HAPI names no country
    flagged = tmp_path / "flagged.csv"
    lines = (shared_data / "hdx_hapi_idps_global.sample.csv").read_text().splitlines()
    flagged.write_text("\n".join([lines[0], lines[1].rstrip(",") + ",,population mismatch"]) + "\n")
    refused = dledger(mali, "import", str(flagged))
    assert refused.code == 1 and "HDX HAPI flags this row: population mismatch" in refused.stderr


def test_export_keeps_breakdowns_and_reimports_identically(
    mali: str, shared_data: Path, tmp_path: Path
) -> None:
    ok(mali, "import", str(shared_data / "dtm_afg_2017_hxl.csv"))
    record(mali, "assessment", "Mali", "2017-12", 38172, "sex:female=20000", "sex:male=18000",
           "age:0-4=4000", "age:60+=1000", "cause:Conflict=30000", "origin:Gao=100")  # fmt: skip
    out = tmp_path / "records.csv"
    ok(mali, "export", "records", "--out", str(out))
    tags = out.read_text().splitlines()[1]
    for tag in ("#affected+idps+ind+f", "#affected+idps+ind+m", "#cause+type+list",
                "#adm1+code+origin+list", "#affected+idps+ind+age0_4",
                "#affected+idps+ind+age60plus"):  # fmt: skip
        assert tag in tags.split(",")
    again = dledger(mali, "import", str(out))
    assert again.code == 0 and "nothing to write" in again.stderr
    fresh = str(tmp_path / "fresh.db")
    ok(fresh, "init")
    ok(fresh, "import", str(out))
    for place, dimension in (("AFG", "origin"), ("MLI", "sex"), ("MLI", "age"), ("AFG", "cause")):
        asked = ("--location", place, "--as-of", "2017-12-31", "--by", "admin1",
                 "--breakdown", dimension)  # fmt: skip
        a, b = totals(mali, *asked), totals(fresh, *asked)
        assert (a["total"], a["rows"]) == (b["total"], b["rows"])


def test_an_altered_breakdown_in_the_log_is_named_not_counted(sqlite_target: str) -> None:
    import sqlite3

    from ledger.backends import EVENTS_TABLE
    from tests.tampering import tamper

    ok(sqlite_target, "init")
    rid = record(sqlite_target, "assessment", "Mali", "2017-12", 100, "sex:female=60")
    with sqlite3.connect(sqlite_target) as conn:  # an edit outside the ledger
        (state,) = conn.execute(
            f"SELECT state FROM {EVENTS_TABLE} WHERE originator_version = 1 "
            "AND topic LIKE '%Recorded' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    conn.close()
    changed = bytes(state).replace(b'"female":60', b'"female":-60')
    tamper(sqlite_target, f"UPDATE {EVENTS_TABLE} SET state = :new WHERE state = :old",
           new=changed, old=state)  # fmt: skip
    outcome = dledger(sqlite_target, "rebuild")
    assert outcome.code == 1 and "cannot be read" in outcome.stderr and rid in outcome.stderr
