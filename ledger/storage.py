"""Opening a ledger: a SQLite file path or an SQLAlchemy URL, with errors that never leak
credentials and never leave half-created stores behind."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ledger.application import APPLICATION_NAME, Ledger
from ledger.errors import LedgerNotInitialised, StorageUnavailable

EVENTS_TABLE = f"{APPLICATION_NAME}_events"
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def database_url(target: str) -> str:
    """A URL stays a URL; anything else is a SQLite file path."""
    if _SCHEME.match(target):
        return target
    return f"sqlite:///{Path(target).expanduser().resolve()}"


def safe_target(target: str) -> str:
    """The target as it may be shown to a user: any password replaced by ***."""
    if not _SCHEME.match(target):
        return target
    try:
        from sqlalchemy.engine import make_url

        return make_url(target).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show only its scheme
        return target.split("://", 1)[0] + "://…"


def scrub(message: str, target: str) -> str:
    """Remove the target's password (and the whole URL's userinfo) from a message."""
    text = " ".join(str(message).split())
    if _SCHEME.match(target):
        text = text.replace(target, safe_target(target))
        try:
            from sqlalchemy.engine import make_url

            password = make_url(target).password
        except Exception:
            password = None
        if password:
            text = text.replace(str(password), "***")
    return text[:300]


def open_ledger(target: str, *, actor: str = "unknown", create: bool = False) -> Ledger:
    """Open (or with ``create``, create) the ledger at ``target``."""
    url = database_url(target)
    if url.startswith("sqlite:///") and not create:
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            raise LedgerNotInitialised(safe_target(target))
    if url.startswith("sqlite:///") and create:
        parent = Path(url.removeprefix("sqlite:///")).parent
        if not parent.is_dir():
            raise StorageUnavailable(f"cannot create a ledger in {parent}: no such directory")
    env = {
        "PERSISTENCE_MODULE": "ledger.persistence:LedgerFactory",
        "SQLALCHEMY_URL": url,
        "CREATE_TABLE": "y" if create else "n",
    }
    try:
        ledger = Ledger(env=env, actor=actor)
        _tune_sessions(ledger)
        if not create:
            _require_tables(ledger, target)
    except (LedgerNotInitialised, StorageUnavailable):
        raise
    except Exception as error:
        raise StorageUnavailable(
            f"cannot open the ledger at {safe_target(target)}: {_reason(error, target)}"
        ) from None
    return ledger


def _tune_sessions(ledger: Ledger) -> None:
    """PostgreSQL: every session of the ledger runs with ``jit = off``.

    The ledger's statements are index seeks and page-sized copies. PostgreSQL compiles a
    statement to machine code when its *estimated* cost passes ``jit_above_cost``, and
    estimates on a log that just grew by millions of rows are stale: at ten million events
    every catch-up page was compiled anew, and took longer to compile than to run.
    Connections already pooled (table creation) are dropped so every one gets the setting.
    """
    from sqlalchemy import event

    engine = ledger.recorder.datastore.engine  # type: ignore[attr-defined]
    if engine is None or engine.dialect.name != "postgresql":
        return

    def no_jit(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        dbapi_connection.commit()

    event.listen(engine, "connect", no_jit)
    engine.dispose()


def _require_tables(ledger: Ledger, target: str) -> None:
    from sqlalchemy import inspect

    engine = ledger.recorder.datastore.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        if not inspect(connection).has_table(EVENTS_TABLE):
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
