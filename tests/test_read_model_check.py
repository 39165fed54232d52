"""``verify`` also proves the read models say what the log says: it rebuilds them from the
log in a scratch database and compares every row, so a figure edited by hand in a
read-model table is named (and ``--log-only`` skips the comparison)."""

from __future__ import annotations

import json

import pytest

from tests.chain_tampering import sql
from tests.command_line import dledger


@pytest.fixture
def demo(db_target: str) -> str:
    assert dledger(db_target, "demo").code == 0
    return db_target


def _edit(target: str, statement: str) -> None:
    """Change a read-model table by hand, as someone with database access could (the read
    models have no triggers: they are rebuilt from the log)."""
    from sqlalchemy import create_engine, text

    from ledger.targets import database_url

    engine = create_engine(database_url(target))
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def test_read_models_that_agree_are_reported(demo: str) -> None:
    outcome = dledger(demo, "verify")
    assert outcome.code == 0 and outcome.stdout.startswith("intact: 9 events checked"), outcome
    data = json.loads(dledger(demo, "verify", "--format", "json").stdout)
    assert data["read_models"]["position"] == 9 and data["read_models"]["agrees"] is True
    assert data["read_models"]["rows"] > 100 and data["tree"]["stored"] is True


@pytest.mark.parametrize(
    "statement, said",
    [
        ("UPDATE dlp_versions SET individuals = 4000 WHERE individuals = 3000",
         "dlp_versions disagrees with the log at (position 6): its individuals is 4000, "
         "the log gives 3000"),
        ("DELETE FROM dlp_locations WHERE pcode = 'ML07'",
         "dlp_locations lacks the row (pcode 'ML07') that the log gives"),
        ("UPDATE dlp_locations SET parent = 'ML05' WHERE pcode = 'ML0703'",
         "dlp_locations disagrees with the log at (pcode 'ML0703'): its parent is 'ML05'"),
    ],
)  # fmt: skip
def test_a_read_model_edited_by_hand_is_named(demo: str, statement: str, said: str) -> None:
    _edit(demo, statement)
    outcome = dledger(demo, "verify")
    assert outcome.code == 1 and outcome.stderr.count("\n") == 1
    assert said in outcome.stderr and "run `dledger rebuild`" in outcome.stderr
    assert dledger(demo, "verify", "--log-only").code == 0  # the log itself is intact
    data = json.loads(dledger(demo, "verify", "--format", "json").stdout)
    assert data["intact"] is False and data["read_models"]["agrees"] is False
    assert data["problem"]["kind"] == "read model altered"
    assert dledger(demo, "rebuild").code == 0
    assert dledger(demo, "verify").code == 0


def test_the_scratch_database_leaves_nothing_behind(demo: str) -> None:
    assert dledger(demo, "verify").code == 0
    if demo.startswith("postgresql"):
        from ledger.storage import close_ledger, open_ledger

        ledger = open_ledger(demo)
        try:
            schemas = sql(
                ledger, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'dledger_scratch%'"
            )
        finally:
            close_ledger(ledger)
        assert schemas == []
