"""Running dledger in-process, and counting what it wrote."""

from __future__ import annotations

from typing import NamedTuple

import pytest
from typer.testing import CliRunner

from cli.main import app
from ledger.storage import EVENTS_TABLE, database_url


class Outcome(NamedTuple):
    code: int
    stdout: str
    stderr: str


def dledger(db: str, *args: str, actor: str = "amina") -> Outcome:
    result = CliRunner().invoke(app, ["--db", db, "--actor", actor, *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback would have reached the user
    return Outcome(result.exit_code, result.stdout, result.stderr)


def event_count(db: str) -> int:
    """Rows in the event table (every event ever written to this ledger)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url(db))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {EVENTS_TABLE}")).scalar_one())
    finally:
        engine.dispose()


def _initialised_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """One ledger per backend for a whole module, initialised through `dledger init`.

    For tests that only add records and compare event counts before/after: sharing the
    store saves an init per test. Import ``initialised_store`` to get the ``db`` fixture.
    """
    if request.param == "sqlite":
        target = str(tmp_path_factory.mktemp("store") / "ledger.db")
    else:
        from tests.conftest import _empty_postgres

        target = request.getfixturevalue("pg_database")
        _empty_postgres(target)
    outcome = dledger(target, "init")
    assert outcome == (0, "", f"ledger ready at {target} (64 locations registered)\n")
    return target


initialised_store = pytest.fixture(scope="module", params=["sqlite", "postgresql"], name="db")(
    _initialised_store
)
