"""Import engine on both backends: formats, DTM rules, identity, revisions, atomicity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ledger.application import Ledger
from ledger.errors import ConcurrentChange
from ledger.importing import FileFormat, ImportOptions, ImportRefused, detect_format, import_file
from ledger.records import FigureRecord
from tests.import_files import dtm_row, write_dtm_hxl, write_plain
from tests.reading import current_records, versions_of

AFG = "dtm_afg_2017_hxl.csv"
HTI = "dtm_api_displacement-admin1-admin0pcode-hti.sample.json"
MALI_RECORDS = Path(__file__).parent / "data" / "mali_records.csv"


def event_count(ledger: Ledger) -> int:
    table = ledger.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    with ledger.recorder.transaction(commit=False) as session:  # type: ignore[attr-defined]
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def records(ledger: Ledger) -> dict[tuple[str, str], FigureRecord]:
    return {(r.pcode, r.date): r for r in current_records(ledger)}


def run(ledger: Ledger, path: Path, bulk: bool = True, **options: Any) -> Any:
    from ledger.importing.saving import BulkSaver
    from tests.import_reference import AggregateSaver

    saver = BulkSaver if bulk else AggregateSaver
    return import_file(ledger, path, ImportOptions(**options), saver=saver)


def test_format_detection(shared_data: Path) -> None:
    assert detect_format(shared_data / AFG) is FileFormat.HXL
    assert detect_format(shared_data / HTI) is FileFormat.DTM_JSON
    assert detect_format(MALI_RECORDS) is FileFormat.CSV
    assert detect_format(shared_data / "ocha_global_pcodes_MLI_adm1_adm2.csv") is FileFormat.HXL


def test_afghanistan_national_stock_is_the_sum_of_reason_rows(
    ledger: Ledger, shared_data: Path
) -> None:
    report = run(ledger, shared_data / AFG)
    found = records(ledger)
    assert found["AFG", "2017-03-30"].individuals == 246_362
    assert found["AFG", "2017-06-30"].individuals == 945_182
    assert found["AFG", "2017-03-30"].households is None
    # admin1 records are what their reason rows sum to; admin2 rows stand alone
    assert found["AF06", "2017-03-30"].individuals == 141_176 + 84 + 52_158
    assert found["AF15", "2017-03-30"].individuals == 24_167 + 14 + 8_566
    assert found["AF07", "2017-03-30"].individuals == 14_613 + 5_584
    assert found["AF0616", "2017-03-30"].individuals == 7_000
    assert found["AF1514", "2017-03-30"].individuals == 112
    assert len(found) == 14 and report.count("new") == 14
    assert all(r.kind == "assessment" and r.source["round"] for r in found.values())


def test_dtm_locations_are_registered_from_the_file(ledger: Ledger, shared_data: Path) -> None:
    run(ledger, shared_data / AFG)
    index = ledger.locations()
    assert index.get("AFG").name == "Afghanistan" and index.get("AFG").level == 0
    assert (index.get("AF06").parent, index.get("AF06").level) == ("AFG", 1)
    assert (index.get("AF0616").name, index.get("AF0616").parent) == ("Shinwar", "AF06")
    # an origin admin1 is registered under the row's country, with the row's name for it
    assert (index.get("AF09").name, index.get("AF09").parent, index.get("AF09").level) == (
        "Baghlan",
        "AFG",
        1,
    )


def test_dtm_api_json(ledger: Ledger, shared_data: Path) -> None:
    report = run(ledger, shared_data / HTI)
    found = records(ledger)
    assert found["HT01", "2010-11-30"].individuals == 1_059_849
    assert found["HT02", "2011-03-30"].individuals == 4_492
    assert ledger.locations().get("HT01").parent == "HTI"
    assert report.count("new") == 6 and report.format == "dtm-json"


def test_plain_csv_resolves_names_and_keeps_origin(ledger: Ledger) -> None:
    run(ledger, MALI_RECORDS)
    found = records(ledger)
    national = found["MLI", "2017-12-31"]
    assert (national.individuals, national.households, national.precision) == (
        38_172,
        7_716,
        "month",
    )
    assert national.source["url"].startswith("https://www.iom.int")
    mopti = found["ML05", "2018-02-15"]
    assert (mopti.kind, mopti.origin, mopti.cause) == ("registration", "ML06", "Conflict")


def test_ba_preferred_and_sa_used_only_where_no_ba(ledger: Ledger, tmp_path: Path) -> None:
    path = write_dtm_hxl(
        tmp_path / "ba_sa.csv",
        [
            dtm_row(100, adm1="TST01", reason="Conflict"),
            dtm_row(50, adm1="TST01", reason="Natural disaster", origin="TST02"),
            dtm_row(999, adm1="TST01", assessment="SA"),
            dtm_row(70, adm1="TST02", assessment="SA", reason="Conflict"),
            dtm_row(30, adm1="TST02", assessment="SA", reason="Other"),
        ],
    )
    report = run(ledger, path)
    found = records(ledger)
    assert found["TST01", "2020-01-31"].individuals == 150
    assert found["TST02", "2020-01-31"].individuals == 100
    assert report.count("superseded") == 1 and report.count("new") == 2


def test_levels_put_each_stock_on_its_location(ledger: Ledger, tmp_path: Path) -> None:
    path = write_dtm_hxl(
        tmp_path / "levels.csv",
        [
            dtm_row(10, level=0),
            dtm_row(7, level=1),
            dtm_row(5, level=2),
        ],
    )
    run(ledger, path)
    found = records(ledger)
    assert {k[0]: r.individuals for k, r in found.items()} == {"TST": 10, "TST01": 7, "TST0101": 5}


def test_second_import_writes_nothing(ledger: Ledger, shared_data: Path) -> None:
    run(ledger, shared_data / AFG)
    before = event_count(ledger)
    report = run(ledger, shared_data / AFG)
    assert event_count(ledger) == before
    assert report.writes == 0 and report.count("unchanged") == 14
    assert "nothing to write" in report.summary()


def test_revised_file_corrects_the_changed_record_citing_file_and_row(
    ledger: Ledger, tmp_path: Path
) -> None:
    rows = [dtm_row(100, adm1="TST01"), dtm_row(40, adm1="TST02")]
    run(ledger, write_dtm_hxl(tmp_path / "r1.csv", rows))
    rows[1] = dtm_row(45, adm1="TST02")
    before = event_count(ledger)
    report = run(ledger, write_dtm_hxl(tmp_path / "round1-revised.csv", rows))
    assert event_count(ledger) == before + 1
    assert (report.count("correct"), report.count("unchanged")) == (1, 1)
    record = records(ledger)["TST02", "2020-01-31"]
    last = versions_of(ledger, record.id)[-1]
    assert (last.action, last.changes[0].old, last.changes[0].new) == ("corrected", 40, 45)
    assert last.citation == "round1-revised.csv row 4"
    assert "round1-revised.csv" in (last.reason or "")


def test_missing_rows_are_reported_and_retracted_only_on_request(
    ledger: Ledger, tmp_path: Path
) -> None:
    rows = [dtm_row(100, adm1="TST01"), dtm_row(40, adm1="TST02")]
    run(ledger, write_dtm_hxl(tmp_path / "full.csv", rows))
    shorter = write_dtm_hxl(tmp_path / "shorter.csv", rows[:1])
    before = event_count(ledger)
    report = run(ledger, shorter)
    assert report.count("missing") == 1 and event_count(ledger) == before
    report = run(ledger, shorter, retract_missing=True)
    assert report.count("retract") == 1 and event_count(ledger) == before + 1
    assert ("TST02", "2020-01-31") not in records(ledger)
    assert run(ledger, shorter).count("missing") == 0


def test_other_sources_are_never_missing(ledger: Ledger, tmp_path: Path) -> None:
    run(ledger, write_dtm_hxl(tmp_path / "a.csv", [dtm_row(1, operation="Operation A")]))
    report = run(ledger, write_dtm_hxl(tmp_path / "b.csv", [dtm_row(2, operation="Op B")]))
    assert report.count("missing") == 0 and report.count("new") == 1


def test_dry_run_plans_exactly_what_the_import_writes(ledger: Ledger, tmp_path: Path) -> None:
    path = write_dtm_hxl(tmp_path / "dry.csv", [dtm_row(5), dtm_row(6, adm1="TST02")])
    planned: list[str] = []
    before = event_count(ledger)
    import_file(ledger, path, ImportOptions(dry_run=True), on_plan=lambda p: planned.append(str(p)))
    assert event_count(ledger) == before and "TST" not in ledger.locations()
    done: list[str] = []
    import_file(ledger, path, ImportOptions(), on_plan=lambda p: done.append(str(p)))
    assert planned == done and len(done) == 2


def test_a_file_with_bad_rows_writes_nothing_and_lists_every_bad_row(
    ledger: Ledger, tmp_path: Path
) -> None:
    path = write_dtm_hxl(
        tmp_path / "bad.csv",
        [
            dtm_row(5),
            dtm_row(-3, adm1="TST02"),
            dtm_row(7, adm1="TST03", date="2020-13-01"),
            dtm_row("many", adm1="TST04"),
        ],
    )
    before = event_count(ledger)
    with pytest.raises(ImportRefused) as refused:
        run(ledger, path)
    assert event_count(ledger) == before and "TST" not in ledger.locations()
    assert [(e.row, e.column) for e in refused.value.errors] == [
        (4, "#affected+idps"),
        (5, "#date+reported"),
        (6, "#affected+idps"),
    ]
    assert refused.value.errors[1].value == "2020-13-01"


def test_repeated_dtm_part_is_an_error_not_a_double_count(ledger: Ledger, tmp_path: Path) -> None:
    path = write_dtm_hxl(tmp_path / "twice.csv", [dtm_row(5), dtm_row(5)])
    with pytest.raises(ImportRefused) as refused:
        run(ledger, path)
    assert [(e.row, "repeats row 3" in e.reason) for e in refused.value.errors] == [(4, True)]


def test_skip_invalid_imports_good_rows_and_writes_rejects(ledger: Ledger, tmp_path: Path) -> None:
    path = write_plain(
        tmp_path / "mixed.csv",
        ["kind", "location", "date", "individuals", "source"],
        [
            ["assessment", "Mopti", "2018-01-31", "100", "DTM"],
            ["assessment", "Atlantis", "2018-01-31", "100", "DTM"],
            ["assessment", "Gao", "2018-01-31", "-5", "DTM"],
        ],
    )
    rejects = tmp_path / "rejects.csv"
    report = run(ledger, path, skip_invalid=True, rejects=rejects)
    assert report.rejected == 2 and report.count("new") == 1
    assert set(records(ledger)) == {("ML05", "2018-01-31")}
    lines = rejects.read_text().splitlines()
    assert lines[0] == "kind,location,date,individuals,source,reason"
    assert lines[1].startswith("assessment,Atlantis,2018-01-31,100,DTM,")
    assert "unknown location" in lines[1] and "individuals" in lines[2]


def test_rejects_of_an_hxl_file_keep_its_header_and_hashtag_rows(
    ledger: Ledger, tmp_path: Path
) -> None:
    path = write_dtm_hxl(tmp_path / "h.csv", [dtm_row(5), dtm_row("x", adm1="TST02")])
    rejects = tmp_path / "r.csv"
    run(ledger, path, skip_invalid=True, rejects=rejects)
    lines = rejects.read_text().splitlines()
    assert lines[0].endswith(",reason") and lines[1].endswith(",#meta+reason")
    assert len(lines) == 3 and "TST02" in lines[2]


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "aggregates"])
def test_a_failure_in_a_later_batch_leaves_the_ledger_as_before(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    rows = [dtm_row(i, level=2, adm2=f"TST01{i:02d}") for i in range(1, 30)]
    path = write_dtm_hxl(tmp_path / "many.csv", rows)
    inserts = {"count": 0}
    store: Any = ledger.recorder.store  # type: ignore[attr-defined]
    real_append = store.append

    def failing_append(*args: Any, **kwargs: Any) -> Any:
        # every write path appends through the backend
        inserts["count"] += 1  # 1: the new locations, 2: the first batch, 3: the second
        if inserts["count"] == 3:
            raise RuntimeError("disk on fire")
        return real_append(*args, **kwargs)

    monkeypatch.setattr(store, "append", failing_append)
    before = event_count(ledger)
    with pytest.raises(RuntimeError):
        run(ledger, path, batch_size=10, bulk=bulk)
    assert inserts["count"] == 3 and event_count(ledger) == before
    ledger._index = None
    assert "TST" not in ledger.locations()


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "aggregates"])
def test_a_record_saved_meanwhile_fails_the_import_as_a_concurrent_change(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    import ledger.importing.writing as writing

    rows = [dtm_row(5, adm1="TST01"), dtm_row(6, adm1="TST02")]
    run(ledger, write_dtm_hxl(tmp_path / "a.csv", rows))
    # the batch is planned as if another writer had not saved these records yet
    monkeypatch.setattr(writing, "load_records", lambda target, ids: {})
    before = event_count(ledger)
    with pytest.raises(ConcurrentChange):
        run(ledger, write_dtm_hxl(tmp_path / "b.csv", rows), bulk=bulk)
    assert event_count(ledger) == before


def test_export_imports_into_an_identical_ledger(
    ledger: Ledger, shared_data: Path, tmp_path: Path, db_target: str
) -> None:
    from ledger.reference import mali_locations
    from ledger.storage import close_ledger, open_ledger
    from tests.chain_tampering import target_of
    from tests.command_line import dledger

    run(ledger, shared_data / AFG)
    run(ledger, MALI_RECORDS)
    written = ledger.record(
        kind="return",
        location="Gao",
        date="2018",
        individuals=10,
        households=2,
        source={"publisher": "OCHA"},
        note="by hand",
    )
    ledger.correct(written.record_id, individuals=12, reason="typo")
    dropped = ledger.record(
        kind="return", location="Gao", date="2018-02", individuals=1, source={"publisher": "OCHA"}
    )
    ledger.retract(dropped.record_id, reason="duplicate")
    out = tmp_path / "export.csv"
    exported = dledger(target_of(ledger), "export", "records", "--out", str(out))
    assert exported == (0, "", "18 records exported\n")
    fields = (
        "kind",
        "pcode",
        "date",
        "precision",
        "individuals",
        "households",
        "source",
        "origin",
        "cause",
        "note",
        "import_key",
    )
    expected = {r.id: tuple(getattr(r, f) for f in fields) for r in current_records(ledger)}
    target = db_target + "_b" if db_target.endswith(".db") else None
    if target is None:  # PostgreSQL: a second schema is not available; compare via re-import
        report = run(ledger, out)
        assert report.writes == 0 and report.count("unchanged") == 18
        return
    other = open_ledger(target, actor="b", create=True)
    try:
        other.register_locations(mali_locations(), source="test seed")
        report = run(other, out)
        assert report.count("new") == 18
        copied = {r.id: tuple(getattr(r, f) for f in fields) for r in current_records(other)}
        assert copied == expected
    finally:
        close_ledger(other)
