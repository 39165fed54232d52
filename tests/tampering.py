"""Tampering with the log as an attacker who owns the database file (or is a superuser)
would: drop the append-only triggers, then change what they protect.

The ledger's events, chain and Merkle tree tables refuse UPDATE and DELETE (and TRUNCATE on
PostgreSQL) by triggers. Whoever may drop those triggers can still rewrite the log, and
that is what ``verify``, signed checkpoints and audit bundles exist to catch: tests that
check they do use ``tamper`` to get past the triggers first, as such an attacker would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, text

if TYPE_CHECKING:
    from ledger.application import Ledger

PROTECTED = ("dledger_events", "dledger_chain", "dledger_tree")


def drop_append_only_triggers(connection: Connection) -> list[str]:
    """Drop every trigger on the protected tables, found in the catalogue as an attacker
    would find them; their names."""
    if connection.dialect.name == "sqlite":
        rows = connection.execute(
            text(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name IN ('dledger_events', 'dledger_chain', 'dledger_tree')"
            )
        ).all()
        for name, _ in rows:
            connection.execute(text(f'DROP TRIGGER "{name}"'))
    else:
        rows = connection.execute(
            text(
                "SELECT t.tgname, c.relname FROM pg_trigger AS t JOIN pg_class AS c "
                "ON c.oid = t.tgrelid WHERE NOT t.tgisinternal "
                "AND c.relname IN ('dledger_events', 'dledger_chain', 'dledger_tree')"
            )
        ).all()
        for name, table in rows:
            connection.execute(text(f'DROP TRIGGER "{name}" ON "{table}"'))
    return [str(name) for name, _ in rows]


def tamper(target: Ledger | str, statement: str, **params: Any) -> None:
    """Run one raw SQL statement against the log of ``target`` (a ledger, or a ``--db``
    target), the append-only triggers dropped first, in one transaction."""
    engine, owned = _engine(target)
    try:
        with engine.begin() as connection:
            drop_append_only_triggers(connection)
            connection.execute(text(statement), params)
    finally:
        if owned:
            engine.dispose()


def _engine(target: Ledger | str) -> tuple[Engine, bool]:
    if isinstance(target, str):
        from ledger.targets import database_url

        return create_engine(database_url(target)), True
    engine = target.recorder.datastore.engine  # type: ignore[attr-defined]
    assert isinstance(engine, Engine)
    return engine, False
