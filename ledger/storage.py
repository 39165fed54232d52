"""Opening a ledger for writing: the eventsourcing application over SQLAlchemy, with errors
that never leak credentials and never leave half-created stores behind.

(Read commands do not come here: ``projections.service`` opens the read side on the
driver's own connection.)
"""

from __future__ import annotations

from ledger.application import Ledger
from ledger.backends import EVENTS_TABLE, store_for
from ledger.errors import LedgerNotInitialised, StorageUnavailable
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
        ledger = Ledger(env=env, actor=actor)
        if not create:
            _require_tables(ledger, target)
    except (LedgerNotInitialised, StorageUnavailable):
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
