"""Running dledger in-process, and counting what it wrote."""

from __future__ import annotations

from typing import NamedTuple

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
