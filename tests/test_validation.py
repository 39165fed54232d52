"""Each bad input of issue 2: one line on stderr, exit 1, and no event written (both backends)."""

from __future__ import annotations

import pytest

from ledger.locations import Location
from ledger.storage import close_ledger, open_ledger
from tests.command_line import dledger, event_count, initialised_store  # noqa: F401 (db)

MISSING = "00000000-0000-0000-0000-000000000000"


def record(db: str, *changes: str) -> list[str]:
    """`dledger record` arguments for the Dec 2017 national assessment, with some replaced."""
    values = {
        "--location": "Mali", "--date": "2017-12", "--individuals": "38172",
        "--households": "7716", "--source": "IOM DTM",
    }  # fmt: skip
    values.update(dict(zip(changes[::2], changes[1::2], strict=True)))
    return ["record", "assessment", *(part for pair in values.items() for part in pair)]


def refused(db: str, args: list[str], message: str) -> None:
    """Run args; expect exit 1, exactly one stderr line, nothing on stdout, no new event."""
    before = event_count(db)
    outcome = dledger(db, *args)
    assert outcome == (1, "", f"error: {message}\n")
    assert event_count(db) == before


def recorded(db: str) -> str:
    outcome = dledger(db, *record(db))
    assert outcome.code == 0
    return outcome.stdout.strip()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (("--date", "2017-13"), "date '2017-13' is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)"),
        (
            ("--date", "31/12/2017"),
            "date '31/12/2017' is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)",
        ),
        (("--date", "2999-01-01"), "date 2999-01-01 is in the future"),
        (("--individuals", "-5"), "individuals must be a whole number ≥ 0, got -5"),
        (("--individuals", "38172.5"), "individuals must be a whole number ≥ 0, got '38172.5'"),
        (("--individuals", "many"), "individuals must be a whole number ≥ 0, got 'many'"),
        (("--households", "-1"), "households must be a whole number ≥ 0, got -1"),
        (("--households", "40000"), "households (40000) cannot exceed individuals (38172)"),
        (("--source", "  "), "source is required (who published the figure)"),
        (("--published-on", "2999"), "publication date 2999 is in the future"),
        (
            ("--location", "Mopty"),
            "unknown location 'Mopty'; closest: ML05 Mali/Mopti (admin1), "
            "ML0506 Mopti/Mopti (admin2)",
        ),
        (("--location", "Atlantis"), "unknown location 'Atlantis'"),
    ],
)
def test_a_bad_record_is_refused_and_writes_nothing(
    db: str, changes: tuple[str, str], message: str
) -> None:
    refused(db, record(db, *changes), message)


def test_an_unknown_kind_is_refused_and_writes_nothing(db: str) -> None:
    args = record(db)
    args[1] = "census"
    refused(
        db, args, "KIND 'census' is not one of assessment, registration, return, new_displacement"
    )


def test_an_ambiguous_location_is_refused_listing_the_candidates(db: str) -> None:
    ledger = open_ledger(db, actor="tester")
    ledger.register_locations(
        [Location("ML0990", "Commune I", 2, "ML09"), Location("ML0790", "Commune I", 2, "ML07")],
        source="test",
    )
    close_ledger(ledger)
    refused(
        db,
        record(db, "--location", "commune i"),
        "location 'commune i' is ambiguous: ML0790 Gao/Commune I (admin2), "
        "ML0990 Bamako/Commune I (admin2); use a p-code or qualify with the parent (Parent/Name)",
    )


def test_a_correction_leaving_households_above_individuals_is_refused(db: str) -> None:
    record_id = recorded(db)
    refused(
        db,
        ["correct", record_id, "--individuals", "7000", "--reason", "typo"],
        "households (7716) cannot exceed individuals (7000)",
    )


def test_a_correction_that_changes_nothing_is_refused(db: str) -> None:
    record_id = recorded(db)
    refused(
        db,
        ["correct", record_id, "--individuals", "38172", "--location", "MLI", "--reason", "same"],
        f"the correction of record {record_id} changes nothing",
    )


def test_a_correction_without_any_new_value_is_refused(db: str) -> None:
    record_id = recorded(db)
    refused(db, ["correct", record_id, "--reason", "nothing"],
            f"the correction of record {record_id} changes nothing")  # fmt: skip


def test_a_correction_with_a_blank_reason_is_refused(db: str) -> None:
    record_id = recorded(db)
    refused(db, ["correct", record_id, "--individuals", "1", "--reason", " "],
            "a correction needs a reason")  # fmt: skip


def test_a_retraction_with_a_blank_reason_is_refused(db: str) -> None:
    record_id = recorded(db)
    refused(db, ["retract", record_id, "--reason", ""], "a retraction needs a reason")


def test_a_correction_without_reason_option_is_a_usage_error_and_writes_nothing(db: str) -> None:
    record_id = recorded(db)
    before = event_count(db)
    outcome = dledger(db, "correct", record_id, "--individuals", "1")
    assert outcome.code == 2 and "Missing option '--reason'" in outcome.stderr
    assert event_count(db) == before


def test_a_retracted_record_cannot_be_corrected_or_retracted(db: str) -> None:
    record_id = recorded(db)
    assert dledger(db, "retract", record_id, "--reason", "duplicate").code == 0
    message = f"record {record_id} is retracted and cannot be amended"
    refused(db, ["correct", record_id, "--individuals", "1", "--reason", "typo"], message)
    refused(db, ["retract", record_id, "--reason", "again"], message)


@pytest.mark.parametrize("command", ["correct", "retract"])
def test_amending_a_missing_record_is_refused(db: str, command: str) -> None:
    extra = ["--individuals", "1"] if command == "correct" else []
    refused(db, [command, MISSING, *extra, "--reason", "typo"],
            f"no figure record with id {MISSING}")  # fmt: skip


def test_amending_something_that_is_not_a_record_id_is_refused(db: str) -> None:
    refused(db, ["retract", "42", "--reason", "typo"], "'42' is not a record id (a UUID)")


def test_a_correction_to_an_unknown_location_is_refused(db: str) -> None:
    record_id = recorded(db)
    refused(db, ["correct", record_id, "--location", "Atlantis", "--reason", "moved"],
            "unknown location 'Atlantis'")  # fmt: skip


def test_a_correction_to_a_future_date_is_refused(db: str) -> None:
    record_id = recorded(db)
    refused(db, ["correct", record_id, "--date", "2999-12", "--reason", "typo"],
            "date 2999-12 is in the future")  # fmt: skip


# --db ------------------------------------------------------------------------------------


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    url = "postgresql+psycopg://bob:s3cret-pw@127.0.0.1:1/ledger"
    outcome = dledger(url, "history", MISSING)
    assert (outcome.code, outcome.stdout) == (1, "")
    assert outcome.stderr.startswith(
        "error: cannot open the ledger at postgresql+psycopg://bob:***@127.0.0.1:1/ledger: "
    )
    assert outcome.stderr.count("\n") == 1 and "s3cret-pw" not in outcome.stderr


def test_a_database_that_does_not_exist_is_one_line_without_the_password(
    pg_database: str,
) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(pg_database).set(database="no_such_db_here", password="s3cret-pw")
    outcome = dledger(url.render_as_string(hide_password=False), "init")
    assert (outcome.code, outcome.stdout) == (1, "")
    assert outcome.stderr.startswith("error: cannot open the ledger at postgresql+psycopg://")
    assert 'database "no_such_db_here" does not exist' in outcome.stderr
    assert outcome.stderr.count("\n") == 1 and "s3cret-pw" not in outcome.stderr


def test_an_unsupported_url_is_refused(tmp_path: object) -> None:
    outcome = dledger("nosuchdriver://user:pw@host/db", "init")
    assert outcome == (
        1, "",
        "error: cannot open the ledger at nosuchdriver://user:***@host/db: "
        "not a SQLite path or a supported database URL\n",
    )  # fmt: skip


def test_a_sqlite_path_in_a_missing_directory_is_refused(tmp_path: object) -> None:
    target = f"{tmp_path}/no/such/dir/ledger.db"
    assert dledger(target, "init") == (
        1, "", f"error: cannot create a ledger in {tmp_path}/no/such/dir: no such directory\n",
    )  # fmt: skip
