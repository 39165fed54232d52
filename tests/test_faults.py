"""Bad input and faults, as a careless user and as an attacker would try them: every one
ends in one line on stderr and an exit status, writes nothing, leaves the user's files as
they were, prints no secret, and the ledger stays readable with the same figures."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.command_line import dledger, event_count

ROOT = Path(__file__).resolve().parents[1]
MALI = "2017-12,assessment,MLI,38172,7716,IOM DTM"


@pytest.fixture
def demo(db_target: str) -> str:
    assert dledger(db_target, "demo").code == 0
    return db_target


def figures(db: str) -> object:
    outcome = dledger(db, "totals", "--as-of", "2018-02-28", "--by", "admin1", "--format", "json")
    assert outcome.code == 0, outcome.stderr
    data = json.loads(outcome.stdout)
    return [data["total"], data["rows"]]


def one_line(outcome: object, code: int = 1) -> str:
    assert outcome.code == code, outcome  # type: ignore[attr-defined]
    err: str = outcome.stderr  # type: ignore[attr-defined]
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def plain(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(["date,kind,location,individuals,households,source", *lines]) + "\n")
    return path


# -- files ----------------------------------------------------------------------------------


def test_a_missing_or_folder_import_file_is_one_line(demo: str, tmp_path: Path) -> None:
    before = event_count(demo)
    assert "nosuch.csv: no such file" in one_line(
        dledger(demo, "import", str(tmp_path / "nosuch.csv"))
    )
    assert "is a folder" in one_line(dledger(demo, "import", str(tmp_path)))
    assert event_count(demo) == before


def test_rejects_are_never_written_onto_the_input(demo: str, tmp_path: Path) -> None:
    source = plain(tmp_path / "mixed.csv", MALI, "2018-01,registration,Mopti,lots,,IOM DTM")
    kept = source.read_bytes()
    before = event_count(demo)
    err = one_line(dledger(demo, "import", str(source), "--skip-invalid", "--rejects", str(source)))
    assert "is also an input of this command" in err
    assert source.read_bytes() == kept and event_count(demo) == before


def test_an_existing_rejects_file_is_replaced_only_when_forced(demo: str, tmp_path: Path) -> None:
    source = plain(tmp_path / "mixed.csv", MALI, "2018-01,registration,Mopti,lots,,IOM DTM")
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("mine\n")
    args = ["import", str(source), "--skip-invalid", "--rejects", str(rejects)]
    assert "give --force to replace it" in one_line(dledger(demo, *args))
    assert rejects.read_text() == "mine\n"
    assert dledger(demo, *args, "--force").code == 0
    assert "lots" in rejects.read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_outputs_into_missing_folders_or_onto_folders_are_one_line(
    demo: str, tmp_path: Path
) -> None:
    source = plain(tmp_path / "mixed.csv", "2018-01,registration,Mopti,lots,,IOM DTM", MALI)
    before = event_count(demo)
    for out in (tmp_path / "no" / "such" / "file.csv", tmp_path):
        err = one_line(dledger(demo, "export", "records", "--out", str(out)))
        assert ("no such folder" in err) or ("is a folder" in err)
        args = ["import", str(source), "--skip-invalid", "--rejects", str(out)]
        assert ("no such folder" in one_line(dledger(demo, *args))) or out.is_dir()
    assert event_count(demo) == before


def test_an_export_never_replaces_a_file_unless_forced(demo: str, tmp_path: Path) -> None:
    out = tmp_path / "records.csv"
    out.write_text("precious\n")
    assert "already exists" in one_line(dledger(demo, "export", "records", "--out", str(out)))
    assert out.read_text() == "precious\n"
    assert dledger(demo, "export", "records", "--out", str(out), "--force").code == 0
    assert out.read_text().startswith("record_id,")


# -- bounds and ambiguous input -----------------------------------------------------------


@pytest.mark.parametrize("count", ["99999999999999999999", str(2**63), "1000000000000"])
def test_a_count_beyond_the_bound_is_refused_naming_the_field(demo: str, count: str) -> None:
    before = event_count(demo)
    err = one_line(dledger(demo, "record", "registration", "--location", "Gao", "--date", "2018-01",
                           "--individuals", count, "--source", "x"))  # fmt: skip
    assert "individuals must be at most 999,999,999,999" in err
    assert event_count(demo) == before


def test_a_misplaced_thousands_separator_is_refused(demo: str) -> None:
    before = event_count(demo)
    err = one_line(dledger(demo, "record", "registration", "--location", "Gao", "--date", "2018-01",
                           "--individuals", "1,5", "--source", "x"))  # fmt: skip
    assert "a comma must group three digits" in err and event_count(demo) == before
    ok = dledger(demo, "record", "registration", "--location", "Gao", "--date", "2018-01",
                 "--individuals", "1,500", "--households", "300", "--source", "x")  # fmt: skip
    assert ok.code == 0


def test_an_import_with_a_count_beyond_the_bound_writes_nothing(demo: str, tmp_path: Path) -> None:
    source = plain(tmp_path / "big.csv", MALI, "2018-01,registration,Gao,123456789012345678901,,x")
    before = event_count(demo)
    outcome = dledger(demo, "import", str(source), "--format", "json")
    assert outcome.code == 1 and "Traceback" not in outcome.stderr
    [error] = json.loads(outcome.stdout)["errors"]
    assert error["row"] == 3 and "at most 999,999,999,999" in error["reason"]
    assert event_count(demo) == before


def test_a_duplicated_column_is_refused(demo: str, tmp_path: Path) -> None:
    twice = tmp_path / "twice.csv"
    twice.write_text(
        "date,kind,location,individuals,individuals,source\n2017-12,assessment,MLI,1,2,x\n"
    )
    assert "column 'individuals' appears twice" in one_line(dledger(demo, "import", str(twice)))
    hxl = tmp_path / "twice_hxl.csv"
    hxl.write_text(
        "country,date,n,n2\n#country+code,#date+reported,#affected+idps,#affected+idps\n"
        "MLI,2017-12-31,1,2\n"
    )
    assert "appears twice" in one_line(dledger(demo, "import", str(hxl)))


def test_empty_and_header_only_files_are_refused(demo: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty" in one_line(dledger(demo, "import", str(empty)))
    header = plain(tmp_path / "header.csv")
    assert "no rows" in one_line(dledger(demo, "import", str(header)))


def test_a_file_that_is_not_utf8_text_is_refused_naming_the_line(demo: str, tmp_path: Path) -> None:
    latin = tmp_path / "latin1_hxl.csv"
    latin.write_bytes(
        b"country,admin1,date,n\n#country+code,#adm1+name,#date+reported,#affected+idps\n"
        b"MLI,M\xe9naka,2017-12-31,10\n"
    )
    assert "line 3: not UTF-8 text (byte 0xe9)" in one_line(dledger(demo, "import", str(latin)))
    binary = tmp_path / "sheet.xlsx"
    binary.write_bytes(b"PK\x03\x04\x00\x00binary")
    assert "not a text file" in one_line(dledger(demo, "import", str(binary)))
    listed = tmp_path / "pcodes.csv"
    listed.write_bytes(b"#adm+code,#adm+name\nML01,K\xe9s\n")
    assert "not UTF-8 text" in one_line(dledger(demo, "locations", "import", str(listed)))


def _pcode_list(path: Path, *rows: str) -> Path:
    path.write_text(
        "code,name,parent,level\n#adm+code,#adm+name,#adm+code+parent,#geo+admin_level\n"
        + "\n".join(rows)
        + "\n"
    )
    return path


def test_a_location_list_whose_parents_form_a_cycle_registers_nothing(
    demo: str, tmp_path: Path
) -> None:
    before = event_count(demo)
    cycle = _pcode_list(tmp_path / "cycle.csv", "ML0991,A,ML0992,2", "ML0992,B,ML0991,2")
    err = one_line(dledger(demo, "locations", "import", str(cycle)))
    assert "form a cycle" in err and "ML0991" in err
    assert event_count(demo) == before
    assert figures(demo) is not None  # still readable


def test_a_wrong_parent_is_repaired_by_a_correction_shown_in_the_history(
    demo: str, tmp_path: Path
) -> None:
    wrong = _pcode_list(tmp_path / "wrong.csv", "ML0950,New cercle,ML07,2")
    assert dledger(demo, "locations", "import", str(wrong)).code == 0
    fixed = dledger(demo, "locations", "correct", "ML0950", "--parent", "ML09",
                    "--reason", "it is in Bamako")  # fmt: skip
    assert fixed.code == 0, fixed.stderr
    history = json.loads(dledger(demo, "locations", "history", "ML0950", "--format", "json").stdout)
    assert [c["action"] for c in history["changes"]] == ["registered", "corrected"]
    assert history["changes"][1]["changes"] == {"parent": ["ML07", "ML09"]}
    assert history["changes"][1]["reason"] == "it is in Bamako"
    assert history["location"]["parent"] == "ML09"
    cycle = dledger(demo, "locations", "correct", "ML09", "--parent", "ML0950", "--reason", "x")
    assert "form a cycle" in one_line(cycle)


def test_a_moved_location_takes_its_figures_with_it(demo: str) -> None:
    assert dledger(demo, "record", "registration", "--location", "ML0703", "--date", "2018-01",
                   "--individuals", "40", "--source", "x").code == 0  # fmt: skip
    before = {r["pcode"]: r["individuals"] for r in figures(demo)[1]}  # type: ignore[index]
    assert dledger(demo, "locations", "correct", "ML0703", "--parent", "ML05",
                   "--reason", "test").code == 0  # fmt: skip
    after = {r["pcode"]: r["individuals"] for r in figures(demo)[1]}  # type: ignore[index]
    assert after["ML05"] == before["ML05"] + 40 and after["ML07"] == before["ML07"] - 40
    assert dledger(demo, "rebuild").code == 0
    assert {r["pcode"]: r["individuals"] for r in figures(demo)[1]} == after  # type: ignore[index]


# -- output a terminal or a spreadsheet would misread ---------------------------------------


def test_control_characters_are_shown_escaped_and_json_stays_exact(demo: str) -> None:
    evil = "DTM\x1b[2J\r\nforged line\x07 [red]markup[/red]"
    written = dledger(demo, "record", "registration", "--location", "Gao", "--date", "2018-01",
                      "--individuals", "5", "--source", evil)  # fmt: skip
    assert written.code == 0
    record = written.stdout.strip()
    table = dledger(demo, "explain", "Gao", "--as-of", "2018-02-28").stdout
    assert "\x1b" not in table and "\r" not in table and "\x07" not in table
    assert "DTM\\e[2J\\r\\nforged line\\x07 [red]markup[/red]" in table.replace("\n│   ", "")
    as_csv = dledger(demo, "explain", "Gao", "--as-of", "2018-02-28", "--format", "csv").stdout
    assert "\x1b" not in as_csv
    data = json.loads(dledger(demo, "history", record, "--format", "json").stdout)
    assert data["versions"][0]["source"]["publisher"] == evil


def test_an_export_is_safe_in_a_spreadsheet_and_imports_back_exactly(
    demo: str, tmp_path: Path
) -> None:
    formula = '=HYPERLINK("http://example.org","click")'
    for source in (formula, "+1 dial", "@SUM(A1)", "'quoted", "-5 a note"):
        assert dledger(demo, "record", "return", "--location", "Gao", "--date", "2018-02",
                       "--individuals", "1", "--source", source).code == 0  # fmt: skip
    out = tmp_path / "export.csv"
    assert dledger(demo, "export", "records", "--out", str(out)).code == 0
    text = out.read_text()
    assert "'=HYPERLINK" in text and "'+1 dial" in text and "''quoted" in text
    for line in text.splitlines()[2:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for cell in line.split(","))
    copy = str(tmp_path / "copy.db")
    assert dledger(copy, "init").code == 0
    assert dledger(copy, "import", str(out)).code == 0
    again = tmp_path / "again.csv"
    assert dledger(copy, "export", "records", "--out", str(again)).code == 0
    assert sorted(again.read_text().splitlines()) == sorted(text.splitlines())


# -- secrets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://bob:s3cr3t-pw@127.0.0.1:1/db",
        "postgresql+psycopg://bob@127.0.0.1:1/db?password=s3cr3t-pw",
        "postgresql+psycopg://bob:s3cr3t-pw@127.0.0.1:1/db?sslpassword=s3cr3t-pw&sslmode=prefer",
        "postgresql+psycopg://bob:s3cr3t%2Dpw@127.0.0.1:1/db",
        "postgresql://bob:s3cr3t-pw@127.0.0.1:1/db",
        "nosuchdriver://bob:s3cr3t-pw@host/db",
    ],
)
def test_no_password_of_a_database_url_is_ever_printed(url: str) -> None:
    from ledger.targets import safe_target, scrub

    record = ["record", "assessment", "--location", "Mali", "--date", "2017",
              "--individuals", "1", "--source", "x"]  # fmt: skip
    for command in (["totals"], ["init"], record, ["verify"]):
        outcome = dledger(url, *command)
        assert outcome.code == 1 and "s3cr3t" not in outcome.stderr + outcome.stdout
    assert "s3cr3t" not in safe_target(url)
    assert "s3cr3t" not in scrub(f"failed for {url} with s3cr3t-pw", url)


# -- faults -----------------------------------------------------------------------------------


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    if shutil.which("chattr") is None:
        pytest.skip("no chattr on this machine")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot make a file immutable here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


@pytest.mark.parametrize("db_target", ["sqlite"], indirect=True)
def test_writing_to_an_immutable_ledger_is_one_line_and_reads_still_work(demo: str) -> None:
    kept = figures(demo)
    for side in ("", "-wal", "-shm"):
        if Path(demo + side).exists():
            subprocess.run(["chattr", "+i", demo + side], check=False)
    try:
        with immutable(Path(demo)):
            record = dledger(demo, "record", "registration", "--location", "Gao", "--date",
                             "2018-01", "--individuals", "5", "--source", "x")  # fmt: skip
            err = one_line(record)
            assert "read-only" in err or "cannot open or write" in err
    finally:
        for side in ("-wal", "-shm"):
            subprocess.run(["chattr", "-i", demo + side], check=False, capture_output=True)
    assert figures(demo) == kept


@contextlib.contextmanager
def small_disk(tmp_path: Path, size: str = "600k") -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_an_import_that_fills_the_disk_writes_nothing_and_reads_still_work(tmp_path: Path) -> None:
    from tests.import_files import dtm_row, write_dtm_hxl

    with small_disk(tmp_path) as disk:
        db = str(disk / "ledger.db")
        assert dledger(db, "init").code == 0
        kept, before = figures(db), event_count(db)
        rows = [dtm_row(i, level=2, adm2=f"TST{i // 90 + 1:02d}{i % 90:02d}") for i in range(4000)]
        big = write_dtm_hxl(tmp_path / "big.csv", rows)
        err = one_line(dledger(db, "import", str(big)))
        assert "disk is full" in err
        assert event_count(db) == before and figures(db) == kept


def test_an_export_to_a_full_disk_leaves_no_partial_file(demo: str, tmp_path: Path) -> None:
    with small_disk(tmp_path, "8k") as disk:
        filler = disk / "filler"
        filler.write_bytes(b"x" * 7000)
        out = disk / "export.csv"
        err = one_line(dledger(demo, "export", "records", "--out", str(out)))
        assert "disk is full" in err
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_output_into_a_closed_pipe_is_one_line_not_a_traceback(demo: str) -> None:
    # more than a pipe holds (64 KiB), so the writer meets the closed end
    # (two years by district: about 80 KB in some twenty questions)
    many = [sys.executable, "-c", "from cli.main import run; run()", "--db", demo, "series",
            "--from", "2016-01", "--to", "2017-12", "--by", "admin2", "--location", "MLI",
            "--format", "csv"]  # fmt: skip
    done = subprocess.run(
        f"{' '.join(shlex.quote(a) for a in many)} | head -n 1", shell=True,
        capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=False,
    )  # fmt: skip
    assert done.stdout.startswith("as_of,")
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert done.stderr.count("\n") <= 1, done.stderr


def test_an_internal_error_says_so_in_one_line_and_debug_shows_it(
    demo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from projections import service

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(service.ReadService, "totals", broken)
    err = one_line(dledger(demo, "totals"))
    assert "internal error (ZeroDivisionError)" in err and "--debug" in err
    with pytest.raises(ZeroDivisionError):
        dledger(demo, "--debug", "totals")


def test_an_event_with_an_impossible_count_is_named_not_a_crash(demo: str) -> None:
    """One bad number stored outside the ledger never makes the whole ledger unreadable."""
    from sqlalchemy import create_engine, text

    from ledger.targets import database_url
    from tests.tampering import tamper

    engine = create_engine(database_url(demo))
    with engine.begin() as conn:
        state = conn.execute(text("SELECT state FROM dledger_events WHERE id = "
                                  "(SELECT max(id) FROM dledger_events)")).scalar_one()  # fmt: skip
    engine.dispose()
    data = json.loads(bytes(state))
    if "individuals" not in data:
        pytest.skip("the last event is not a record")
    data["individuals"] = 2**70
    tamper(demo, "UPDATE dledger_events SET state = :s WHERE id = "
                 "(SELECT max(id) FROM dledger_events)", s=json.dumps(data).encode())  # fmt: skip
    for command in (["rebuild"], ["totals"], ["explain", "Mali"]):  # rebuilt up to it, no further
        err = one_line(dledger(demo, *command))
        assert "the event at log position" in err and "dledger verify" in err
