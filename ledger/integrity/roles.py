"""Database roles for a ledger on PostgreSQL: one that may only append to the log, one that
may only read it (``dledger init --writer-role NAME --reader-role NAME``).

With the append-only triggers, a writer role that holds only INSERT and SELECT on the log
cannot change history even by raw SQL: it may not UPDATE, DELETE or TRUNCATE, may not drop
or disable a trigger (only the tables' owner may), and may not say who wrote an event (the
chain's ``db_user`` column is filled in by the database and not granted to it). Passwords
are read from the environment (``DLEDGER_WRITER_PASSWORD``, ``DLEDGER_READER_PASSWORD``)
and never shown; without one, a role logs in as the server's authentication allows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ledger.backends import Role, store_for
from ledger.errors import InvalidInput
from ledger.targets import database_url

PASSWORDS = {"writer": "DLEDGER_WRITER_PASSWORD", "reader": "DLEDGER_READER_PASSWORD"}
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def roles_of(writer: str | None, reader: str | None, env: Mapping[str, str]) -> list[Role]:
    """The roles asked for, names checked, passwords from ``env``."""
    roles = []
    for kind, name in (("writer", writer), ("reader", reader)):
        if name is None:
            continue
        if not _NAME.match(name):
            raise InvalidInput(
                f"--{kind}-role {name[:70]!r} is not a role name this command makes: lowercase "
                "letters, digits and underscores, at most 63, not starting with a digit"
            )
        roles.append(Role(name, kind, env.get(PASSWORDS[kind]) or None))
    if len(roles) == 2 and roles[0].name == roles[1].name:
        raise InvalidInput("the writer and the reader role must be two roles")
    return roles


def check_target(target: str, roles: Sequence[Role]) -> None:
    """Refuse, before anything is written, roles for a ledger that cannot have them."""
    if roles and store_for(database_url(target)).name != "postgresql":
        raise InvalidInput(
            "database roles are PostgreSQL's: a SQLite ledger is as safe as its file's "
            "permissions (give --writer-role or --reader-role with a PostgreSQL URL)"
        )


def grant_roles(target: str, roles: Sequence[Role], read_models: Sequence[str]) -> list[str]:
    """Create or update the roles on the ledger at ``target``, in one transaction; what was
    done, one line per role."""
    url = database_url(target)
    store = store_for(url)
    conn = store.connect(url)
    try:
        with store.transaction(conn) as cur:
            return store.grant_roles(cur, roles, read_models)
    finally:
        conn.close()
