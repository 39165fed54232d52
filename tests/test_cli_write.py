"""The write commands and history/locations through the CLI: exact output and exit codes."""

from __future__ import annotations

import json
from uuid import UUID

import typer
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from cli.read import QueryOrSubcommand
from tests.command_line import dledger, event_count, initialised_store  # noqa: F401 (db)

DEC_2017 = (
    "--location", "Mali", "--date", "2017-12", "--individuals", "38172",
    "--households", "7716", "--source", "IOM DTM", "--report", "DTM report Dec 2017 (DNDS)",
)  # fmt: skip


def record_dec_2017(db: str) -> str:
    outcome = dledger(db, "record", "assessment", *DEC_2017)
    assert (outcome.code, outcome.stderr) == (0, "")
    return outcome.stdout.strip()


def test_init_twice_registers_nothing_new_and_writes_nothing(db: str) -> None:
    before = event_count(db)
    assert dledger(db, "init") == (0, "", f"ledger ready at {db} (0 locations registered)\n")
    assert event_count(db) == before


def test_record_prints_the_new_id_alone(db: str) -> None:
    outcome = dledger(db, "record", "assessment", *DEC_2017)
    assert outcome.code == 0 and outcome.stderr == ""
    assert outcome.stdout == f"{UUID(outcome.stdout.strip())}\n"


def test_record_as_json_prints_an_object_with_the_id(db: str) -> None:
    outcome = dledger(db, "record", "assessment", *DEC_2017, "--format", "json")
    record_id = json.loads(outcome.stdout)["record_id"]
    assert outcome.stdout == json.dumps({"record_id": record_id}) + "\n"


def test_record_with_a_bare_region_name_notes_the_cercle_on_stderr(db: str) -> None:
    outcome = dledger(
        db, "record", "registration", "--location", "mopti", "--date", "2018-01",
        "--individuals", "2000", "--source", "IOM DTM",
    )  # fmt: skip
    assert outcome.code == 0
    assert outcome.stderr == (
        "'mopti' taken as ML05 Mali/Mopti (admin1); it also names ML0506 Mopti/Mopti (admin2)\n"
    )
    assert UUID(outcome.stdout.strip())


def test_correct_prints_the_id_and_the_new_version(db: str) -> None:
    record_id = record_dec_2017(db)
    outcome = dledger(db, "correct", record_id, "--individuals", "38000", "--reason", "typo")
    assert outcome == (0, f"{record_id} 2\n", "")
    as_json = dledger(db, "correct", record_id, "--households", "unknown", "--reason", "not given",
                      "--format", "json")  # fmt: skip
    assert as_json == (0, json.dumps({"record_id": record_id, "version": 3}) + "\n", "")


def test_retract_prints_the_id_and_the_new_version(db: str) -> None:
    record_id = record_dec_2017(db)
    assert dledger(db, "retract", record_id, "--reason", "duplicate") == (
        0, f"{record_id} 2\n", "",
    )  # fmt: skip


def test_history_shows_every_version_with_what_changed_who_and_why(db: str) -> None:
    record_id = record_dec_2017(db)
    dledger(db, "correct", record_id, "--individuals", "38000", "--reason", "typo", actor="bakary")
    dledger(db, "retract", record_id, "--reason", "duplicate", actor="chantal")
    outcome = dledger(db, "history", record_id, "--format", "json")
    assert (outcome.code, outcome.stderr) == (0, "")
    data = json.loads(outcome.stdout)
    versions = data["versions"]
    assert data["record_id"] == record_id
    assert [(v["version"], v["action"], v["actor"], v["reason"]) for v in versions] == [
        (1, "recorded", "amina", None),
        (2, "corrected", "bakary", "typo"),
        (3, "retracted", "chantal", "duplicate"),
    ]
    assert versions[1]["changes"] == [{"field": "individuals", "old": 38172, "new": 38000}]
    assert versions[0]["location"] == {"pcode": "MLI", "name": "Mali", "level": "country"}
    assert versions[0]["source"] == {"publisher": "IOM DTM", "report": "DTM report Dec 2017 (DNDS)"}
    assert [v["individuals"] for v in versions] == [38172, 38000, 38000]
    assert [v["retracted"] for v in versions] == [False, False, True]
    at = [v["recorded_at"][:19] + "+00:00" for v in versions]
    # on PostgreSQL the session user that wrote is named beside the actor declared
    users = {v["db_user"] for v in versions}
    assert users == ({None} if db.endswith(".db") else {make_url(db).username})
    by = "" if users == {None} else f",{make_url(db).username}"
    assert dledger(db, "history", record_id, "--format", "csv").stdout == (
        "version,recorded at,actor,change,reason,date,location,individuals,households"
        + (",database user" if by else "")
        + "\n"
        f"1,{at[0]},amina,recorded,,2017-12,MLI,38172,7716{by}\n"
        f"2,{at[1]},bakary,individuals 38172 → 38000,typo,2017-12,MLI,38000,7716{by}\n"
        f"3,{at[2]},chantal,retracted,duplicate,2017-12,MLI,38000,7716{by}\n"
    )


def test_history_as_a_table_has_a_title_and_one_row_per_version(db: str) -> None:
    record_id = record_dec_2017(db)
    dledger(db, "correct", record_id, "--individuals", "38000", "--reason", "typo")
    lines = dledger(db, "history", record_id).stdout.splitlines()
    assert lines[0].rstrip() == f"assessment {record_id} (source: IOM DTM)"
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) == 2
    assert "individuals 38172 → 38000" in rows[1] and "38,000" in rows[1]


def test_history_of_a_missing_record_is_an_error(db: str) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert dledger(db, "history", missing) == (
        1,
        "",
        f"error: no figure record with id {missing}\n",
    )


def test_locations_searches_names_and_variants(sqlite_target: str) -> None:
    dledger(sqlite_target, "init")
    outcome = dledger(sqlite_target, "locations", "timbuktu", "--format", "csv")
    assert outcome.stdout == (
        'pcode,name,level,parent,variants\nML06,Tombouctou,admin1,MLI,"Timbuktu, Tomboctou, TBK"\n'
    )
    assert (outcome.code, outcome.stderr) == (0, "")
    as_json = json.loads(dledger(sqlite_target, "locations", "ménaka", "--format", "json").stdout)
    assert as_json == [
        {
            "pcode": "ML10",
            "name": "Menaka",
            "level": "admin1",
            "parent": "MLI",
            "variants": ["Ménaka"],
        },
        {"pcode": "ML1001", "name": "Menaka", "level": "admin2", "parent": "ML10", "variants": []},
    ]


def test_locations_as_a_table(sqlite_target: str) -> None:
    dledger(sqlite_target, "init")
    assert dledger(sqlite_target, "locations", "gao").stdout == (
        "┏━━━━━━━━┳━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━┓\n"
        "┃ pcode  ┃ name ┃ level  ┃ parent ┃ variants ┃\n"
        "┡━━━━━━━━╇━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━┩\n"
        "│ ML07   │ Gao  │ admin1 │ MLI    │          │\n"
        "│ ML0703 │ Gao  │ admin2 │ ML07   │          │\n"
        "└────────┴──────┴────────┴────────┴──────────┘\n"
    )


def test_a_command_on_a_ledger_never_initialised_says_to_run_init(sqlite_target: str) -> None:
    assert dledger(sqlite_target, "locations") == (
        1, "", f"error: no ledger at {sqlite_target}; run `dledger init` first\n",
    )  # fmt: skip


def test_a_missing_required_option_is_a_usage_error(sqlite_target: str) -> None:
    outcome = dledger(sqlite_target, "retract", "00000000-0000-0000-0000-000000000000")
    assert outcome.code == 2 and "Missing option '--reason'" in outcome.stderr


def test_a_subcommand_of_locations_is_not_taken_for_a_query() -> None:
    group = typer.Typer(cls=QueryOrSubcommand, invoke_without_command=True)

    @group.callback()
    def search(ctx: typer.Context, query: str | None = typer.Argument(None)) -> None:
        if ctx.invoked_subcommand is None:
            typer.echo(f"search {query}")

    @group.command("import")
    def load(file: str, dry_run: bool = typer.Option(False, "--dry-run")) -> None:
        typer.echo(f"import {file} dry_run={dry_run}")

    runner = CliRunner()
    assert runner.invoke(group, ["import", "pcodes.csv", "--dry-run"]).stdout == (
        "import pcodes.csv dry_run=True\n"
    )
    assert runner.invoke(group, ["gao"]).stdout == "search gao\n"
    assert runner.invoke(group, []).stdout == "search None\n"
