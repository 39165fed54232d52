"""verify, checkpoint and keygen through the CLI: exit codes and the one-line messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from ledger.application import Ledger
from ledger.storage import open_ledger
from tests.chain_tampering import event_ids, link_of, set_state, state_of

HEX64 = "[0-9a-f]{64}"


def run(target: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", target, "--actor", "tester", *args])


@pytest.fixture
def target(ledger: Ledger, db_target: str) -> str:
    """A ledger of five events, set up through the library (the commands under test are
    verify, checkpoint and keygen)."""
    for n in ("100", "200", "300"):
        ledger.record(
            kind="registration",
            location="Gao",
            date="2018-01",
            individuals=n,
            source={"publisher": "IOM DTM"},
        )
    assert len(event_ids(ledger)) == 5
    return db_target


def tamper_state(target: str) -> tuple[int, str]:
    """Flip one byte of the third event's state; its id and the expected message."""
    ledger = open_ledger(target)
    try:
        event = event_ids(ledger)[2]
        state = bytearray(state_of(ledger, event))
        state[3] ^= 0xFF
        set_state(ledger, event, bytes(state))
        position, record, version = link_of(ledger, event)
    finally:
        ledger.close()
        ledger.recorder.datastore.engine.dispose()  # type: ignore[attr-defined]
    return event, (
        f"error: event {event} at position {position} (record {record} version {version}) "
        "was modified (or chain links up to it were altered)\n"
    )


def test_verify_on_an_intact_ledger_prints_a_summary(target: str) -> None:
    result = run(target, "verify")
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(
        rf"intact: 5 events checked; head position 5, hash {HEX64}\n", result.stdout
    )
    assert (
        result.stderr == "note: the ledger has no read models yet: there was nothing to compare\n"
    )


def test_verify_names_a_modified_event_in_one_line(target: str) -> None:
    _, expected = tamper_state(target)
    result = run(target, "verify")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == expected


def test_verify_json_reports_the_problem_too(target: str) -> None:
    tamper_state(target)
    result = run(target, "verify", "--format", "json")
    assert result.exit_code == 1
    assert '"intact": false' in result.stdout and '"kind": "modified"' in result.stdout


def test_a_signed_checkpoint_holds_and_then_catches_rewriting(target: str, tmp_path: Path) -> None:
    key, cp = tmp_path / "key", tmp_path / "cp.txt"
    assert run(target, "keygen", "--out", str(key)).exit_code == 0
    assert (tmp_path / "key.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert run(target, "checkpoint", "--key", str(key), "--out", str(cp)).exit_code == 0
    holds = run(target, "verify", "--checkpoint", str(cp), "--public-key", f"{key}.pub")
    assert holds.exit_code == 0, holds.stderr
    assert holds.stdout.endswith("checkpoint at position 5 holds (signature checked)\n")
    tamper_state(target)
    broken = run(target, "verify", "--checkpoint", str(cp), "--public-key", f"{key}.pub")
    assert broken.exit_code == 1 and broken.stderr.count("\n") == 1


def test_checkpoint_prints_the_documented_text(target: str) -> None:
    result = run(target, "checkpoint")
    assert result.exit_code == 0
    assert re.fullmatch(
        rf"dledger checkpoint 2\nposition 5\nhash {HEX64}\ntree 5 {HEX64}\n"
        r"time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n",
        result.stdout,
    )


def test_verify_rejects_a_forged_checkpoint(target: str, tmp_path: Path) -> None:
    key, cp = tmp_path / "key", tmp_path / "cp.txt"
    run(target, "keygen", "--out", str(key))
    run(target, "checkpoint", "--key", str(key), "--out", str(cp))
    cp.write_text(cp.read_text().replace("position 5", "position 4").replace("tree 5 ", "tree 4 "))
    result = run(target, "verify", "--checkpoint", str(cp), "--public-key", f"{key}.pub")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the checkpoint's signature does not match its contents: it was forged or altered\n"
    )


def test_verify_rejects_a_checkpoint_signed_by_another_key(target: str, tmp_path: Path) -> None:
    run(target, "keygen", "--out", str(tmp_path / "a"))
    run(target, "keygen", "--out", str(tmp_path / "b"))
    run(target, "checkpoint", "--key", str(tmp_path / "a"), "--out", str(tmp_path / "cp"))
    result = run(
        target,
        "verify",
        "--checkpoint",
        str(tmp_path / "cp"),
        "--public-key",
        str(tmp_path / "b.pub"),
    )
    assert result.exit_code == 1
    assert re.fullmatch(
        r"error: the checkpoint was signed by key [0-9a-f]{16}, not by .*\n", result.stderr
    )


def test_keygen_never_overwrites_a_key_unless_forced(tmp_path: Path) -> None:
    key = tmp_path / "key"
    assert run(str(tmp_path / "x.db"), "keygen", "--out", str(key)).exit_code == 0
    before = key.read_bytes()
    again = run(str(tmp_path / "x.db"), "keygen", "--out", str(key))
    assert again.exit_code == 1
    assert again.stderr == f"error: {key}.pub: already exists; give --force to replace it\n"
    assert key.read_bytes() == before
    forced = run(str(tmp_path / "x.db"), "keygen", "--out", str(key), "--force")
    assert forced.exit_code == 0 and key.read_bytes() != before
    assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_a_public_key_without_a_checkpoint_is_a_usage_error(target: str, tmp_path: Path) -> None:
    result = run(target, "verify", "--public-key", str(tmp_path / "k.pub"))
    assert result.exit_code == 2


def test_a_ledger_without_a_chain_table_is_named(ledger: Ledger, db_target: str) -> None:
    from tests.chain_tampering import CHAIN, sql

    sql(ledger, f"DROP TABLE {CHAIN}")
    result = run(db_target, "verify")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: this ledger has no hash chain (it was created before tamper evidence existed)\n"
    )
