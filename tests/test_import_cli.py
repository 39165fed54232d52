"""`import`, `locations import` and `export records` through the CLI; a killed import;
generated bad rows that must never write anything or print a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from tests.command_line import event_count
from tests.import_files import dtm_row, write_dtm_hxl, write_plain

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def cli(db: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", db, "--actor", "tester", *args])
    return result.exit_code, result.stdout, result.stderr


def test_import_twice_says_nothing_to_write(db_target: str, shared_data: Path) -> None:
    assert cli(db_target, "init")[0] == 0
    code, _, err = cli(db_target, "import", str(shared_data / "dtm_afg_2017_hxl.csv"))
    assert code == 0 and "14 new, 14 locations registered" in err
    code, _, err = cli(db_target, "import", str(shared_data / "dtm_afg_2017_hxl.csv"))
    assert code == 0 and "nothing to write: the ledger already holds this file" in err


def test_refused_import_json_lists_every_error(sqlite_target: str, tmp_path: Path) -> None:
    cli(sqlite_target, "init")
    rows = [dtm_row("bad", adm1=f"TST{i:02d}") for i in range(1, 26)]
    path = write_dtm_hxl(tmp_path / "bad.csv", rows)
    before = event_count(sqlite_target)
    code, out, _ = cli(sqlite_target, "import", str(path), "--format", "json")
    errors = json.loads(out)["errors"]
    assert code == 1 and len(errors) == 25 and event_count(sqlite_target) == before
    assert errors[0] == {
        "row": 3,
        "column": "#affected+idps",
        "value": "bad",
        "reason": "individuals must be a whole number ≥ 0, got 'bad'",
    }


def test_refused_import_on_a_terminal_shows_the_first_20(
    sqlite_target: str, tmp_path: Path
) -> None:
    cli(sqlite_target, "init")
    path = write_dtm_hxl(
        tmp_path / "bad.csv", [dtm_row("x", adm1=f"TST{i:02d}") for i in range(1, 26)]
    )
    code, out, err = cli(sqlite_target, "import", str(path))
    lines = err.splitlines()
    assert code == 1 and out == ""
    assert lines[0] == "error: bad.csv: 25 invalid row(s); nothing was written"
    assert lines[1].startswith("  row 3, column #affected+idps ('x'): individuals")
    assert len(lines) == 22 and "5 more" in lines[-1]


def test_dry_run_prints_the_plan_and_writes_nothing(sqlite_target: str, tmp_path: Path) -> None:
    cli(sqlite_target, "init")
    path = write_dtm_hxl(tmp_path / "d.csv", [dtm_row(5), dtm_row(6, adm1="TST02")])
    before = event_count(sqlite_target)
    code, out, err = cli(sqlite_target, "import", str(path), "--dry-run")
    assert code == 0 and event_count(sqlite_target) == before
    assert [line.split()[0] for line in out.splitlines()] == ["new", "new"]
    assert "would write: 2 new, 3 locations registered" in err


def test_skip_invalid_needs_a_rejects_file(sqlite_target: str, tmp_path: Path) -> None:
    cli(sqlite_target, "init")
    path = write_dtm_hxl(tmp_path / "d.csv", [dtm_row(5)])
    code, _, err = cli(sqlite_target, "import", str(path), "--skip-invalid")
    assert code == 2 and "--rejects" in err


def test_locations_import_registers_a_pcode_list(sqlite_target: str, tmp_path: Path) -> None:
    cli(sqlite_target, "init")
    listing = tmp_path / "pcodes.csv"
    listing.write_text(
        "Location,Admin Level,P-Code,Name,Parent P-Code\n"
        "#country+code,#geo+admin_level,#adm+code,#adm+name,#adm+code+parent\n"
        "MLI,1,ML01,Kayes,MLI\nMLI,2,ML0199,Nouveau,ML01\n"
    )
    code, _, err = cli(sqlite_target, "locations", "import", str(listing))
    assert code == 0 and "3 locations read, 1 new or changed" in err
    code, out, _ = cli(sqlite_target, "locations", "ML0199", "--format", "json")
    assert json.loads(out)[0]["parent"] == "ML01"


def test_export_records_round_trips_through_import(
    sqlite_target: str, shared_data: Path, tmp_path: Path
) -> None:
    cli(sqlite_target, "init")
    cli(sqlite_target, "import", str(shared_data / "dtm_afg_2017_hxl.csv"))
    out = tmp_path / "records.csv"
    code, _, err = cli(sqlite_target, "export", "records", "--out", str(out))
    assert code == 0 and "14 records exported" in err
    fresh = str(tmp_path / "fresh.db")
    cli(fresh, "init")
    code, _, err = cli(fresh, "import", str(out))
    assert code == 0 and "14 new, 14 locations registered" in err
    again = tmp_path / "again.csv"
    cli(fresh, "export", "records", "--out", str(again))

    def rows(path: Path) -> list[str]:  # every column but the actor, which differs
        return sorted(line.rsplit(",", 1)[0] for line in path.read_text().splitlines())

    assert rows(out) == rows(again) and len(rows(out)) == 16


def test_a_killed_import_leaves_the_ledger_as_before(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    cli(db, "init")
    rows = [
        dtm_row(i + 1, level=2, adm2=f"TST01{i:04d}", round_=r) for r in (1, 2) for i in range(2500)
    ]
    path = write_dtm_hxl(tmp_path / "big.csv", rows)
    before = event_count(db)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DLEDGER_PROGRESS": "lines"}
    with subprocess.Popen(
        [sys.executable, "-m", "cli", "--db", db, "import", str(path)],
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    ) as process:
        assert process.stderr is not None
        seen = []
        for line in process.stderr:
            seen.append(line)
            if line.startswith("writing: ") and int(line.split()[1]) >= 2000:
                process.send_signal(signal.SIGKILL)
                break
        process.wait()
    assert process.returncode == -signal.SIGKILL, seen
    assert event_count(db) == before
    code, _, err = cli(db, "import", str(path))
    assert code == 0 and "5000 new" in err


@st.composite
def bad_cells(draw: st.DrawFn) -> list[str]:
    good = ["assessment", "Mopti", "2018-01-31", "100", "", "DTM"]
    column = draw(st.integers(0, 5))
    bad = draw(
        st.sampled_from(
            [
                ["flow", "", "tomorrow"],
                ["Atlantis", "", "Mopti/Nowhere"],
                ["2018-13-01", "31/01/2018", "2999-01-01", "", "1850"],
                ["-1", "1.5", "", "lots", "1e3"],
                ["101", "-2", "x"],
                ["", "  "],
            ][column]
        )
    )
    cells = list(good)
    cells[column] = bad
    if column == 4 and bad == "":  # an empty households cell is fine: make it too big
        cells[4] = "1000"
    return cells


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bad=st.lists(bad_cells(), min_size=1, max_size=4), good_rows=st.integers(0, 3))
def test_generated_bad_rows_never_write_and_never_trace(
    sqlite_target: str, tmp_path_factory: object, bad: list[list[str]], good_rows: int
) -> None:
    if not Path(sqlite_target).exists():
        cli(sqlite_target, "init")
    rows = [
        ["assessment", "Gao", f"2018-01-{i + 1:02d}", "5", "", "DTM"] for i in range(good_rows)
    ] + bad
    path = write_plain(
        Path(sqlite_target).with_suffix(".csv"),
        ["kind", "location", "date", "individuals", "households", "source"],
        rows,
    )
    before = event_count(sqlite_target)
    code, out, err = cli(sqlite_target, "import", str(path), "--format", "json")
    assert code == 1, err
    assert "Traceback" not in out + err
    assert event_count(sqlite_target) == before
    reported = {e["row"] for e in json.loads(out)["errors"]}
    assert reported == set(range(2 + good_rows, 2 + good_rows + len(bad)))


def test_hashtag_row_found_below_extra_header_lines(sqlite_target: str, tmp_path: Path) -> None:
    cli(sqlite_target, "init")
    path = tmp_path / "titled.csv"
    path.write_text(
        "Mali IDPs, compiled by hand\n"
        "Location,Date,IDPs,Source\n"
        "#adm1+code,#date+reported,#affected+idps+ind,#meta+source\n"
        "ML05,2018-01-31,120,DTM\n"
        "ML07,2018-01-31,oops,DTM\n"
    )
    code, out, _ = cli(sqlite_target, "import", str(path), "--format", "json")
    assert code == 1
    assert json.loads(out)["errors"] == [
        {
            "row": 5,
            "column": "#affected+idps+ind",
            "value": "oops",
            "reason": "individuals must be a whole number ≥ 0, got 'oops'",
        }
    ]


def test_import_report_as_json(sqlite_target: str, shared_data: Path) -> None:
    cli(sqlite_target, "init")
    code, out, _ = cli(
        sqlite_target,
        "import",
        "--format",
        "json",
        str(shared_data / "dtm_api_displacement-admin1-admin0pcode-hti.sample.json"),
    )
    report = json.loads(out)
    assert code == 0 and (report["new"], report["format"]) == (6, "dtm-json")
    assert report["locations_registered"] == ["HT01", "HT02", "HTI"]


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x01\x02\xff\xfe binary",
        b"kind,location,date\n\xff\xfe,\x00,x\n",
        b'{"result": [{"operation": "x",',
        b'{"data": []}',
        b"name,value\nx,1\n",
        b"",
        b"#adm1+code,#affected+idps\nML05,3\n",
    ],
)
def test_unreadable_files_are_one_line_errors(
    sqlite_target: str, tmp_path: Path, content: bytes
) -> None:
    cli(sqlite_target, "init")
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    before = event_count(sqlite_target)
    code, _, err = cli(sqlite_target, "import", str(path))
    assert code == 1 and err.startswith("error: ") and "Traceback" not in err, err
    assert event_count(sqlite_target) == before
