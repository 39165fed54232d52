"""The running example end to end through the CLI and its JSON, on both backends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from ledger.storage import close_ledger, open_ledger


class Cli:
    def __init__(self, db: str) -> None:
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> str:
        result = self.runner.invoke(app, ["--db", self.db, "--actor", "analyst", *args])
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result.stdout if code == 0 else result.stderr

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--format", "json"))


@pytest.fixture
def cli(db_target: str) -> Cli:
    runner = Cli(db_target)
    runner("init")
    return runner


@pytest.fixture
def mali(cli: Cli) -> dict[str, str]:
    """The running example (the registrations' regional split is illustrative), recorded
    through the application (the record command itself is tested in test_cli_write)."""
    ledger = open_ledger(cli.db, actor="analyst")
    try:
        ids = {
            "oct": ledger.record(
                kind="assessment",
                location="Mali",
                date="2017-10",
                individuals="40743",
                source={"publisher": "IOM DTM"},
            ),
            "dec": ledger.record(
                kind="assessment",
                location="MLI",
                date="2017-12",
                individuals="38172",
                households="7716",
                source={"publisher": "IOM DTM", "report": "DTM report Dec 2017 (DNDS)"},
            ),
        }
        for name, place, n in [
            ("mopti", "Mopti", "2000"),
            ("menaka", "Ménaka", "3164"),
            ("tbk", "Timbuktu", "1800"),
            ("gao", "Gao", "1200"),
        ]:
            ids[name] = ledger.record(
                kind="registration",
                location=place,
                date="2018-01",
                individuals=n,
                source={"publisher": "IOM DTM"},
            )
    finally:
        close_ledger(ledger)
    return {name: str(written.record_id) for name, written in ids.items()}


def total(cli: Cli, *args: str) -> int:
    data = cli.json("totals", "--location", "Mali", *args)
    value: int = data["total"]["individuals"]
    return value


def test_the_running_example_totals(cli: Cli, mali: dict[str, str]) -> None:
    assert total(cli, "--as-of", "2017-10-31") == 40743
    assert total(cli, "--as-of", "2017-12-31") == 38172
    assert total(cli, "--as-of", "2018-02-28") == 46336


def test_totals_json_has_the_contract_shape(cli: Cli, mali: dict[str, str]) -> None:
    data = cli.json("totals", "--as-of", "2018-02-28", "--by", "admin1")
    assert data["location"] == {"pcode": "MLI", "name": "Mali", "level": "country"}
    assert data["as_of"] == "2018-02-28"
    assert data["total"] == {
        "individuals": 46336,
        "quantifier": "exact",
        "households": None,
        "partial": False,
        "notes": ["households unknown for 4 of 5 records"],
    }
    rows = {r["name"]: r for r in data["rows"]}
    assert rows["Menaka"]["individuals"] == 3164 and rows["Menaka"]["partial"] is True
    assert rows["Menaka"]["notes"][0] == "no baseline on or before 2018-02-28"
    assert rows["not disaggregated"]["pcode"] is None
    assert sum(r["individuals"] for r in data["rows"]) == 46336


def test_a_correction_changes_today_but_known_at_before_still_gives_the_old(
    cli: Cli, mali: dict[str, str]
) -> None:
    before = cli.json("totals", "--as-of", "2018-02-28")["known_at"]
    assert cli("correct", mali["gao"], "--individuals", "1000", "--reason", "double count")
    assert total(cli, "--as-of", "2018-02-28") == 46136
    assert total(cli, "--as-of", "2018-02-28", "--known-at", before) == 46336


def test_explain_as_known_between_two_corrections_shows_only_the_first(
    cli: Cli, mali: dict[str, str]
) -> None:
    cli("correct", mali["gao"], "--individuals", "1000", "--reason", "double count")
    between = cli.json("totals", "--as-of", "2018-02-28")["known_at"]
    cli("correct", mali["gao"], "--individuals", "1200", "--reason", "recount confirmed")
    data = cli.json("explain", "Mali", "--as-of", "2018-02-28", "--known-at", between)
    assert data["individuals"] == 46136
    gao = next(f for f in data["flows"] if f["record_id"] == mali["gao"])
    assert (gao["version"], gao["individuals"]) == (2, 1000)
    assert [(c["version"], c["new"]) for c in gao["corrections"]] == [(2, 1000)]
    others = [f for f in data["flows"] if f["record_id"] != mali["gao"]]
    assert others and all(f["corrections"] == [] for f in others)


def test_a_retraction_leaves_totals_and_stays_in_history(cli: Cli, mali: dict[str, str]) -> None:
    cli("retract", mali["tbk"], "--reason", "duplicate")
    assert total(cli, "--as-of", "2018-02-28") == 46336 - 1800
    history = cli.json("history", mali["tbk"])
    assert [v["action"] for v in history["versions"]] == ["recorded", "retracted"]


def test_explain_gives_the_derivation_of_46336(cli: Cli, mali: dict[str, str]) -> None:
    cli("correct", mali["gao"], "--individuals", "1000", "--reason", "double count")
    cli("correct", mali["gao"], "--individuals", "1200", "--reason", "recount confirmed")
    data = cli.json("explain", "Mali", "--as-of", "2018-02-28")
    assert data["individuals"] == 46336
    assert data["baseline"]["record_id"] == mali["dec"]
    assert data["baseline"]["individuals"] == 38172
    assert data["baseline"]["source"]["report"] == "DTM report Dec 2017 (DNDS)"
    assert sorted(f["individuals"] for f in data["flows"]) == [1200, 1800, 2000, 3164]
    gao = next(f for f in data["flows"] if f["record_id"] == mali["gao"])
    assert gao["version"] == 3
    assert [(c["old"], c["new"], c["reason"]) for c in gao["corrections"]] == [
        (1200, 1000, "double count"),
        (1000, 1200, "recount confirmed"),
    ]
    assert gao["corrections"][0]["actor"] == "analyst"
    assert data["arithmetic"].endswith("= 46,336")
    assert data["partial"] is False
    # the sum a reader redoes by hand
    assert data["baseline"]["individuals"] + sum(f["individuals"] for f in data["flows"]) == 46336


def test_explain_of_a_region_without_baseline_is_partial(cli: Cli, mali: dict[str, str]) -> None:
    data = cli.json("explain", "Menaka", "--as-of", "2018-02-28")
    assert (data["individuals"], data["partial"], data["baseline"]) == (3164, True, None)
    assert data["notes"][0] == "no baseline on or before 2018-02-28"


def test_explain_tree_names_the_sources_and_the_arithmetic(cli: Cli, mali: dict[str, str]) -> None:
    out = cli("explain", "Mali", "--as-of", "2018-02-28")
    assert "Mali (MLI, country): 46,336 IDPs, households unknown" in out
    assert "= 38,172 + 2,000 + 1,800 + 1,200 + 3,164 = 46,336" in out
    assert "DTM report Dec 2017 (DNDS)" in out


def test_compare_december_with_february(cli: Cli, mali: dict[str, str]) -> None:
    data = cli.json("compare", "2017-12-31", "2018-02-28", "--by", "admin1")
    assert data["a"]["total"]["individuals"] == 38172
    assert data["b"]["total"]["individuals"] == 46336
    assert data["change"] == {"individuals": 8164, "households": None}
    changed = {r["name"]: r["change"] for r in data["rows"] if r["change"]}
    assert changed == {"Mopti": 2000, "Menaka": 3164, "Tombouctou": 1800, "Gao": 1200}


def test_series_gives_each_month_end(cli: Cli, mali: dict[str, str]) -> None:
    data = cli.json("series", "--from", "2017-10", "--to", "2018-02", "--every", "month")
    assert [(p["as_of"], p["total"]["individuals"]) for p in data["points"]] == [
        ("2017-10-31", 40743),
        ("2017-11-30", 40743),
        ("2017-12-31", 38172),
        ("2018-01-31", 46336),
        ("2018-02-28", 46336),
    ]
    csv_out = cli("series", "--from", "2017-12", "--to", "2018-01", "--format", "csv")
    assert csv_out.splitlines()[0] == (
        "as_of,country,line,pcode,name,individuals,households,partial,notes"
    )
    assert csv_out.splitlines()[1] == "2017-12-31,MLI,total,MLI,Mali,38172,7716,False,"


def test_a_snapshot_is_frozen_and_comparable(cli: Cli, mali: dict[str, str]) -> None:
    cli("snapshot", "create", "feb2018", "--as-of", "2018-02-28", "--by", "admin1")
    cli("correct", mali["mopti"], "--individuals", "2500", "--reason", "late registrations")
    kept = cli.json("snapshot", "show", "feb2018")
    assert kept["result"]["total"]["individuals"] == 46336
    data = cli.json("compare", "feb2018", "2018-02-28", "--by", "admin1")
    assert data["change"]["individuals"] == 500
    assert cli.json("snapshot", "list")[0]["name"] == "feb2018"
    err = cli("snapshot", "create", "feb2018", "--as-of", "2018-02-28", code=1)
    assert err == "error: a snapshot named 'feb2018' already exists\n"


def test_revisions_name_the_figures_a_correction_changed(cli: Cli, mali: dict[str, str]) -> None:
    since = cli.json("totals")["known_at"]
    cli("correct", mali["gao"], "--individuals", "1000", "--reason", "double count")
    data = cli.json("revisions", "--since", since)
    changed = {
        (f["pcode"], f["as_of"]): (f["old"]["individuals"], f["new"]["individuals"])
        for f in data["figures"]
    }
    assert changed == {("ML07", "2018-01-31"): (1200, 1000), ("MLI", "2018-01-31"): (46336, 46136)}
    assert [e["action"] for e in data["events"]] == ["corrected"]


def test_bad_read_input_is_one_line_and_exit_1(cli: Cli, mali: dict[str, str]) -> None:
    assert cli("totals", "--as-of", "2018-13-01", code=1) == (
        "error: --as-of '2018-13-01' is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)\n"
    )
    assert cli("totals", "--known-at", "2018-01-01T00:00:00", code=1) == (
        "error: --known-at '2018-01-01T00:00:00' has no time zone (add +00:00 or Z)\n"
    )
    assert cli("totals", "--by", "district", code=1).startswith("error: level 'district'")
    assert cli("explain", "Atlantis", code=1) == "error: unknown location 'Atlantis'\n"


def test_rebuild_gives_the_same_figure_table(cli: Cli, mali: dict[str, str]) -> None:
    cli("correct", mali["gao"], "--individuals", "1000", "--reason", "double count")
    before = cli.json("totals", "--as-of", "2018-02-28", "--by", "admin1")
    cli("rebuild")
    after = cli.json("totals", "--as-of", "2018-02-28", "--by", "admin1")
    assert {k: v for k, v in before.items() if k != "known_at"} == {
        k: v for k, v in after.items() if k != "known_at"
    }


def test_history_shows_until_when_each_version_was_current(cli: Cli, mali: dict[str, str]) -> None:
    cli("correct", mali["gao"], "--individuals", "1000", "--reason", "double count")
    versions = cli.json("history", mali["gao"])["versions"]
    assert versions[0]["current_until"] == versions[1]["recorded_at"]
    assert versions[1]["current_until"] is None
    assert versions[1]["changes"] == [{"field": "individuals", "old": 1200, "new": 1000}]


def _hxl_rows(text: str) -> list[Any]:
    import io

    import hxl

    with hxl.input.make_input(io.BytesIO(text.encode())) as source:
        return list(hxl.data(source))


def test_totals_as_hxl_read_back_by_libhxl_with_the_same_numbers(
    cli: Cli, mali: dict[str, str]
) -> None:
    data = cli.json("totals", "--as-of", "2018-02-28", "--by", "admin1")
    rows = _hxl_rows(cli("totals", "--as-of", "2018-02-28", "--by", "admin1", "-f", "hxl"))
    by_line = {(r.get("#meta+line"), r.get("#adm+code") or ""): r for r in rows}
    total = by_line[("total", "MLI")]
    assert int(total.get("#affected+idps+ind")) == data["total"]["individuals"] == 46336
    for expected in data["rows"]:
        line = "admin1" if expected["pcode"] else "not disaggregated"
        got = by_line[(line, expected["pcode"] or "")]
        assert int(got.get("#affected+idps+ind")) == expected["individuals"]
        assert got.get("#adm+name") == expected["name"]


def test_series_and_history_as_hxl_read_back_by_libhxl(cli: Cli, mali: dict[str, str]) -> None:
    rows = _hxl_rows(cli("series", "--from", "2017-10", "--to", "2018-01", "-f", "hxl"))
    assert [(r.get("#date+reported"), int(r.get("#affected+idps+ind"))) for r in rows] == [
        ("2017-10-31", 40743),
        ("2017-11-30", 40743),
        ("2017-12-31", 38172),
        ("2018-01-31", 46336),
    ]
    cli("correct", mali["gao"], "--individuals", "1000", "--reason", "double count")
    rows = _hxl_rows(cli("history", mali["gao"], "-f", "hxl"))
    assert [int(r.get("#affected+idps+ind")) for r in rows] == [1200, 1000]
    assert rows[1].get("#description+reason") == "double count"


def test_a_command_without_an_hxl_form_says_so_as_a_usage_error(
    cli: Cli, mali: dict[str, str]
) -> None:
    assert cli("explain", "Mali", "-f", "hxl", code=2) == (
        "error: this command has no HXL form; use csv or json\n"
    )


def test_explain_and_snapshots_carry_the_chain_checkpoint_they_rest_on(
    cli: Cli, mali: dict[str, str]
) -> None:
    verified = cli.json("verify")
    data = cli.json("explain", "Mali", "--as-of", "2018-02-28")
    assert data["checkpoint"]["position"] == verified["events_checked"]
    assert data["checkpoint"]["head_hash"] == verified["head"]["head_hash"]
    cli("snapshot", "create", "feb", "--as-of", "2018-02-28")
    kept = cli.json("snapshot", "show", "feb")
    assert kept["result"]["checkpoint"] == data["checkpoint"]


def test_an_event_altered_outside_the_ledger_is_a_one_line_error_not_a_traceback(
    cli: Cli, mali: dict[str, str]
) -> None:
    from ledger.storage import EVENTS_TABLE
    from tests.tampering import tamper

    tamper(  # as someone with database access could, past the append-only triggers
        cli.db,
        f"UPDATE {EVENTS_TABLE} SET state = :junk WHERE id = (SELECT max(id) FROM {EVENTS_TABLE})",
        junk=b'{"individuals": 1, oops',
    )
    err = cli("totals", code=1)
    assert err.startswith("error: the event at log position ") and err.count("\n") == 1
    assert "run `dledger verify`" in err
