"""The command line driven as an attacker would, by hypothesis: generated bad arguments
and files never give a traceback, always exit 1 or 2, and never write an event."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from tests.command_line import event_count, initialised_store  # noqa: F401 (the db fixture)

SETTINGS = settings(
    max_examples=int(os.environ.get("DLEDGER_ATTACK_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CURATED = st.sampled_from(
    [
        "", " ", "\x1b[2J", "\r\nforged", "\x00", "9" * 40, str(2**63), "-1", "1,5", "1e3",
        "١٢", "NaN", "2017-13", "2999-01-01", "31/12/2017", "0000-00", "Mopty", "../../etc",
        "'; DROP TABLE dledger_events; --", "%s%s%n", "{}", "[red]x[/red]", "\u202eevil",
        "postgresql://u:p@h/db", "ML05/ML05/ML05", "--help", "-x", "*",
    ]
)  # fmt: skip
# "--help" as a value asks for the help, which is then shown: not an attack
NASTY = (CURATED | st.text(max_size=12)).filter(lambda v: v not in ("--help", "-h"))
GOOD = {
    "KIND": "registration",
    "--location": "Gao",
    "--date": "2018-01",
    "--individuals": "10",
    "--source": "IOM DTM",
}


def run(db: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--db", db, "--actor", "fuzz", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args!r} raised {result.exception!r}") from result.exception
    assert "Traceback" not in result.output + result.stderr, args
    return result.exit_code, result.stderr


@SETTINGS
@given(field=st.sampled_from(["KIND", "--date", "--individuals", "--location", "--households"]),
       value=CURATED)  # fmt: skip
def test_a_record_with_one_bad_value_never_writes(db: str, field: str, value: str) -> None:
    values = dict(GOOD)
    values[field] = value
    if (field == "--households" and value.strip() in ("", "-1")) or value in ("--help", "-h"):
        return  # "" is households unknown; "-1" reads as an option; help is shown
    args = ["record", values.pop("KIND")] + [x for kv in values.items() for x in kv]
    before = event_count(db)
    code, err = run(db, *args)
    assert code in (1, 2), (args, err)
    assert event_count(db) == before


@SETTINGS
@given(command=st.sampled_from(["correct", "retract", "history"]), record=NASTY, reason=NASTY,
       value=NASTY)  # fmt: skip
def test_amendments_of_bad_ids_never_write(
    db: str, command: str, record: str, reason: str, value: str
) -> None:
    args = [command, record]
    if command == "correct":
        args += ["--individuals", value, "--reason", reason]
    elif command == "retract":
        args += ["--reason", reason]
    before = event_count(db)
    code, _ = run(db, *args)
    assert code in (1, 2)
    assert event_count(db) == before


@SETTINGS
@given(
    command=st.sampled_from(["totals", "explain", "series", "compare", "revisions", "snapshot"]),
    values=st.lists(NASTY, min_size=1, max_size=3),
)
def test_reads_with_bad_options_never_write_or_trace(
    db: str, command: str, values: list[str]
) -> None:
    options = {
        "totals": ["--as-of", "--known-at", "--location", "--by"],
        "explain": ["--as-of", "--known-at"],
        "series": ["--from", "--to", "--every"],
        "compare": [],
        "revisions": ["--since", "--until"],
        "snapshot": [],
    }[command]
    args = [command]
    if command == "explain":
        args.append(values[0])
    elif command == "compare":
        args += [values[0], values[-1]]
    elif command == "snapshot":
        args += ["show", values[0]]
    for option, value in zip(options, values, strict=False):
        args += [option, value]
    before = event_count(db)
    code, _ = run(db, *args)
    assert code in (0, 1, 2)
    assert event_count(db) == before


@SETTINGS
@given(content=st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_any_file_either_imports_or_is_refused_without_writing(
    db: str, tmp_path_factory: object, content: bytes
) -> None:
    folder: Path = tmp_path_factory.mktemp("files")  # type: ignore[attr-defined]
    path = folder / "input.csv"
    path.write_bytes(b"date,kind,location,individuals,source\n" + content)
    before = event_count(db)
    code, _ = run(db, "import", str(path))
    assert code in (0, 1, 2)
    if code != 0:
        assert event_count(db) == before
