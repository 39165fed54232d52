"""The demo: the running example's published figures, each with its real source."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.demo import demo_rows, load_demo
from ledger.errors import LedgerError
from tests.command_line import dledger, event_count

IOM_RELEASE = (
    "https://iom.int/news/resurgence-communal-armed-conflict-northern-mali-causes-population-"
    "displacement"
)


def test_the_illustrative_split_adds_up_to_the_published_8164_in_the_four_regions() -> None:
    illustrative = [row for row in demo_rows() if row["illustrative"] == "yes"]
    assert sum(int(row["individuals"]) for row in illustrative) == 8164
    assert {row["location"] for row in illustrative} == {"ML05", "ML10", "ML06", "ML07"}
    assert {row["kind"] for row in illustrative} == {"registration"}
    assert all(row["note"].startswith("illustrative:") for row in illustrative)
    assert {row["source_url"] for row in illustrative} == {IOM_RELEASE}


def test_every_other_row_is_a_published_figure_with_its_source(shared_data: Path) -> None:
    with (shared_data / "mli_idp_public_figures.csv").open(encoding="utf-8") as handle:
        published = {
            (row["reference_date"], row["adm1_code"] or "MLI", row["idps_ind"], row["idps_hh"],
             row["publisher"], row["source_url"])
            for row in csv.DictReader(handle)
        }  # fmt: skip
    shown = [row for row in demo_rows() if row["illustrative"] == "no"]
    assert [(r["date"], r["location"], r["individuals"]) for r in shown] == [
        ("2017-10", "MLI", "40743"),
        ("2017-12", "MLI", "38172"),
        ("2017-12", "ML05", "2151"),
    ]
    for row in shown:
        key = (row["date"], row["location"], row["individuals"], row["households"],
               row["publisher"], row["source_url"])  # fmt: skip
        assert key in published


def test_the_derived_46336_is_not_recorded() -> None:
    assert "46336" not in {row["individuals"] for row in demo_rows()}


def test_load_demo_records_every_row_in_file_order(ledger: Ledger) -> None:
    ids = load_demo(ledger)
    records = [ledger.get_record(record_id) for record_id in ids]
    assert [
        (r.kind, r.pcode, str(r.figure_date), r.individuals, r.households) for r in records
    ] == [
        ("assessment", "MLI", "2017-10", 40743, None),
        ("assessment", "MLI", "2017-12", 38172, 7716),
        ("assessment", "ML05", "2017-12", 2151, None),
        ("registration", "ML05", "2018-01", 3000, None),
        ("registration", "ML10", "2018-01", 2500, None),
        ("registration", "ML06", "2018-01", 1500, None),
        ("registration", "ML07", "2018-01", 1164, None),
    ]
    assert records[1].source == {
        "publisher": "IOM news (early 2018)",
        "report": "DTM report Dec 2017 (DNDS)",
        "url": IOM_RELEASE,
    }


def test_load_demo_refuses_a_ledger_that_holds_records_and_writes_nothing(
    ledger: Ledger, db_target: str
) -> None:
    load_demo(ledger)
    before = event_count(db_target)
    with pytest.raises(LedgerError, match="already holds figure records"):
        load_demo(ledger)
    assert event_count(db_target) == before


def test_dledger_demo_writes_to_a_new_temporary_directory_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--actor", "amina", "demo"], env={"DLEDGER_DB": None})
    assert result.exit_code == 0
    [made] = list((tmp_path / "tmp").glob("dledger-demo-*/ledger.db"))
    assert result.stderr.splitlines() == [
        f"demo ledger at {made} (7 records)",
        f"next, try: dledger --db {made} explain Mali --as-of 2018-02-28",
        result.stderr.splitlines()[2],
    ]
    assert result.stderr.splitlines()[2].startswith(f"      or: dledger --db {made} history ")
    assert event_count(str(made)) > 7
    assert not (tmp_path / "ledger.db").exists()  # the default --db is left alone


def test_dledger_demo_shows_the_records_as_a_table(sqlite_target: str) -> None:
    outcome = dledger(sqlite_target, "demo")
    assert outcome.code == 0
    lines = outcome.stdout.splitlines()
    assert lines[0].rstrip() == "Mali IDP figures, late 2017 to early 2018 (the running example)"
    records = lines[: next(i for i, line in enumerate(lines) if line.startswith("* the release"))]
    rows = [" ".join(line.replace("│", " ").split()) for line in records if line.startswith("│")]
    assert rows == [
        "2017-10 Mali (MLI) assessment 40,743 IOM news (early 2018)",
        "2017-12 Mali (MLI) assessment 38,172 7,716 IOM news (early 2018)",
        "2017-12 Mopti (ML05) assessment 2,151 OCHA bulletin quoted by mali-web.org",
        "2018-01 Mopti (ML05) registration 3,000 IOM news (early 2018) illustrative*",
        "2018-01 Menaka (ML10) registration 2,500 IOM news (early 2018) illustrative*",
        "2018-01 Tombouctou (ML06) registration 1,500 IOM news (early 2018) illustrative*",
        "2018-01 Gao (ML07) registration 1,164 IOM news (early 2018) illustrative*",
    ]
    assert lines[len(records)].startswith("* the release gives 8,164 registrations")
    compared = [" ".join(line.replace("│", " ").split()) for line in lines[len(records) :]]
    assert "MLI Mali (total) 38,172 46,336 8,164" in compared
    assert "ML10 Menaka 0 2,500 2,500" in compared
    assert "├── = 38,172 + 3,000 + 1,500 + 1,164 + 2,500 = 46,336" in lines


def test_dledger_demo_refuses_a_named_ledger_that_holds_records(db_target: str) -> None:
    assert dledger(db_target, "demo").code == 0
    before = event_count(db_target)
    assert dledger(db_target, "demo") == (
        1, "", "error: this ledger already holds figure records; the demo needs a fresh one\n",
    )  # fmt: skip
    assert event_count(db_target) == before


def test_the_demo_derives_46336_for_mali_after_the_registrations(sqlite_target: str) -> None:
    dledger(sqlite_target, "demo")
    outcome = dledger(sqlite_target, "totals", "--location", "Mali", "--as-of", "2018-02-28",
                      "--format", "json")  # fmt: skip
    assert json.loads(outcome.stdout)["total"]["individuals"] == 38172 + 8164 == 46336
