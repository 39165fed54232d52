"""Opening a ledger for writing: the eventsourcing application over SQLAlchemy, with errors
that never leak credentials and never leave half-created stores behind.

(Read commands do not come here: ``projections.service`` opens the read side on the
driver's own connection.)
"""

from __future__ import annotations

from typing import Any

from ledger.application import Ledger
from ledger.backends import EVENTS_TABLE, store_for
from ledger.errors import LedgerError, LedgerNotInitialised, StorageUnavailable
from ledger.integrity.errors import UpgradeRefused
from ledger.integrity.schema import is_current, upgrade
from ledger.targets import database_url, safe_target, scrub


def open_ledger(target: str, *, actor: str = "unknown", create: bool = False) -> Ledger:
    """Open (or with ``create``, create) the ledger at ``target``."""
    url = database_url(target)
    store = store_for(url)
    try:
        store.check_target(url, create=create)
    except LedgerNotInitialised:
        raise LedgerNotInitialised(safe_target(target)) from None
    env = {
        "PERSISTENCE_MODULE": "ledger.persistence:LedgerFactory",
        "SQLALCHEMY_URL": store.write_url(url),
        "CREATE_TABLE": "y" if create else "n",
    }
    try:
        ledger = Ledger(env=env, actor=actor)  # with ``create``, its tables are made here
        if not create:
            _require_tables(ledger, target)
        _ensure_integrity(ledger)
    except LedgerError:
        raise
    except Exception as error:
        raise StorageUnavailable(
            f"cannot open the ledger at {safe_target(target)}: {_reason(error, target)}"
        ) from None
    from ledger.bulk import check_plain_json

    check_plain_json(ledger)
    return ledger


def _require_tables(ledger: Ledger, target: str) -> None:
    recorder = ledger.recorder
    engine = recorder.datastore.engine  # type: ignore[attr-defined]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        found = recorder.store.has_table(cur, EVENTS_TABLE)  # type: ignore[attr-defined]
        cur.close()
    finally:
        raw.close()
    if not found:
        raise LedgerNotInitialised(safe_target(target))


def _ensure_integrity(ledger: Ledger) -> None:
    """Bring a ledger written by an earlier version up to date (``ledger.integrity.schema``:
    the append-only triggers, the Merkle tree, the chain's ``db_user`` column) if anything
    is missing: a few catalogue reads when nothing is, one transaction when something is."""
    recorder: Any = ledger.recorder
    store = recorder.store
    raw = recorder.datastore.engine.raw_connection()
    try:
        with store.snapshot(raw.driver_connection) as cur:
            if is_current(store, cur):
                return
        with store.transaction(raw.driver_connection) as cur:
            if not is_current(store, cur):
                upgrade(store, cur)
    except Exception as error:
        if store.is_denied(error):
            raise UpgradeRefused(
                "this ledger needs an upgrade (append-only triggers, the Merkle tree, the "
                "chain's db_user column) that only the owner of its tables may make: run "
                "`dledger init` as that database user; nothing was written"
            ) from None
        raise
    finally:
        raw.close()


def _reason(error: BaseException, target: str) -> str:
    cause: BaseException = error
    while cause.__cause__ is not None and not str(cause):
        cause = cause.__cause__
    name = type(cause).__name__
    text = scrub(str(cause).splitlines()[0] if str(cause) else name, target)
    if "Can't load plugin" in text or "Could not parse" in text:
        return "not a SQLite path or a supported database URL"
    return text


def close_ledger(ledger: Ledger) -> None:
    """Close the application and every pooled connection (no connection outlives a command)."""
    ledger.close()
    engine = ledger.recorder.datastore.engine  # type: ignore[attr-defined]
    if engine is not None:
        engine.dispose()
