"""The event store's seam: what SQLite and PostgreSQL do differently, one module each.

``EventStore`` holds what every backend does the same way (appending events with their
hash-chain links under the write lock, reading the log), on the driver's own DB-API
connection; ``ledger.backends.sqlite`` and ``ledger.backends.postgresql`` fill in what
differs (connecting, the placeholder style, how a batch of events goes in, how appends
are serialised, how ids are stored). Nothing outside those two modules asks which
database it is talking to: ``store_for(url)`` picks the module from the URL.

The write side (the eventsourcing application over SQLAlchemy) reaches the same methods
with the driver connection of its session, so events written by either path are the
same rows in the same transaction. The read side (``projections``) connects through
``connect`` alone, without SQLAlchemy, which a read command never imports.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.errors import InvalidInput, StorageUnavailable

if TYPE_CHECKING:
    from ledger.integrity.tree import TreeAppender

APPLICATION_NAME = "dledger"
EVENTS_TABLE = f"{APPLICATION_NAME}_events"
CHAIN_TABLE = f"{APPLICATION_NAME}_chain"
TREE_TABLE = f"{APPLICATION_NAME}_tree"

# (originator id as 16 bytes, originator version, topic, state): an event as stored
EventRow = tuple[bytes, int, str, bytes]
# (position, notification id, originator id as 16 bytes, originator version, chain hash)
Link = tuple[int, int, bytes, int, bytes]
# (position of its last leaf, height, hash): a node of the Merkle tree (ledger.integrity.tree)
Node = tuple[int, int, bytes]


@dataclass(frozen=True)
class Role:
    """A database role to give access to a ledger: a ``writer`` appends to the log (INSERT
    and SELECT only), a ``reader`` only reads it; both keep the read models up to date."""

    name: str
    kind: str  # writer | reader
    password: str | None = field(default=None, repr=False)


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)

Connection = Any  # a DB-API 2 connection of the backend's driver
Cursor = Any


def is_url(target: str) -> bool:
    return bool(_SCHEME.match(target))


@dataclass(frozen=True)
class ChainHead:
    position: int
    hash: bytes


class EventStore:
    """The event log on one kind of database. Subclasses fill in the marked methods."""

    name = ""
    placeholder = "?"

    def __init__(self, events_table: str = EVENTS_TABLE) -> None:
        self.events_table = events_table
        prefix = events_table.removesuffix("_events")
        self.chain_table = prefix + "_chain"
        self.tree_table = prefix + "_tree"
        self._tree: TreeAppender | None = None

    # -- connecting (the read side) ------------------------------------------------------

    def connect(self, url: str) -> Connection:  # pragma: no cover - abstract
        raise NotImplementedError

    def check_target(self, url: str, *, create: bool) -> None:
        """Refuse a target that cannot hold a ledger before anything is created."""

    def write_url(self, url: str) -> str:
        """The SQLAlchemy URL the write side opens (session settings included)."""
        return url

    def sql(self, statement: str) -> str:
        """A statement written with ``?`` placeholders, in the driver's style."""
        return statement

    @contextmanager
    def transaction(self, conn: Connection) -> Iterator[Cursor]:  # pragma: no cover
        """A read-write transaction: committed at the end, rolled back on an error."""
        raise NotImplementedError
        yield

    @contextmanager
    def snapshot(self, conn: Connection) -> Iterator[Cursor]:  # pragma: no cover
        """A read-only transaction whose statements all see the same state of the log."""
        raise NotImplementedError
        yield

    @contextmanager
    def streaming(self, conn: Connection) -> Iterator[Cursor]:
        """A read-only cursor whose rows come as they are fetched, not all at once
        (``fetchmany``), in one consistent snapshot."""
        with self.snapshot(conn) as cur:
            yield cur

    def has_table(self, cur: Cursor, name: str) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    @contextmanager
    def scratch(self, url: str, position: int) -> Iterator[str]:  # pragma: no cover
        """A scratch database holding the log up to ``position`` (events and chain links)
        and nothing else, its target (read models rebuilt there compare with the ledger's:
        ``projections.agreement``); removed at the end."""
        raise NotImplementedError
        yield

    # -- the integrity schema (ledger.integrity.schema) ------------------------------------

    @property
    def protected_tables(self) -> tuple[str, str, str]:
        """The tables that only ever grow: events, chain links, tree nodes."""
        return (self.events_table, self.chain_table, self.tree_table)

    def has_column(self, cur: Cursor, table: str, column: str) -> bool:  # pragma: no cover
        raise NotImplementedError

    def add_user_column(self, cur: Cursor, column: str) -> None:  # pragma: no cover
        """Add the chain's column for the database user who appended each link."""
        raise NotImplementedError

    def create_tree_table(self, cur: Cursor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def is_protected(self, cur: Cursor) -> bool:  # pragma: no cover - abstract
        """Whether every append-only trigger is in place (and enabled)."""
        raise NotImplementedError

    def protect(self, cur: Cursor) -> None:  # pragma: no cover - abstract
        """Create the append-only triggers (those that exist are replaced)."""
        raise NotImplementedError

    def grant_roles(
        self, cur: Cursor, roles: Sequence[Role], read_models: Sequence[str]
    ) -> list[str]:
        """Create (or update) database roles that may append to the log or only read it;
        what was done, one line each (never a password)."""
        raise InvalidInput(f"the {self.name} backend has no database roles")

    def is_denied(self, error: BaseException) -> bool:
        """Whether a driver error says the database user lacks a privilege."""
        return False

    # -- how ids are stored --------------------------------------------------------------

    def originator(self, stored: Any) -> UUID:
        """An originator id as the events table returns it, as a UUID."""
        if isinstance(stored, UUID):
            return stored
        return UUID(bytes=bytes(stored))

    def originator_param(self, record_id: UUID) -> Any:
        """A record id as the events table compares it."""
        return record_id.bytes

    # -- appending (the write side) ------------------------------------------------------

    def failure(self, error: BaseException, target: str) -> str | None:
        """What one of the driver's errors means for the user, in one line (None: not a
        driver error)."""
        return None

    def is_conflict(self, error: BaseException) -> bool:
        """Whether a driver error is a unique key violation (a version stored already)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def lock_appends(self, cur: Cursor) -> None:
        """Serialise appenders until the end of the transaction (ids commit in order)."""

    def insert_events(self, cur: Cursor, rows: Sequence[EventRow]) -> list[int]:
        """Insert the rows in order; their notification ids, ascending."""
        raise NotImplementedError  # pragma: no cover - abstract

    def insert_links(
        self, cur: Cursor, links: Sequence[tuple[int, int, bytes, int, bytes]]
    ) -> None:
        """Insert chain links: (position, notification id, originator id bytes, version, hash)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def insert_nodes(self, cur: Cursor, nodes: Sequence[Node]) -> None:
        """Insert Merkle tree nodes: (position of the last leaf, height, hash)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def tree(self) -> TreeAppender:
        """What keeps the Merkle tree as links are appended (one per store)."""
        if self._tree is None:
            from ledger.integrity.tree import TreeAppender

            self._tree = TreeAppender(self)
        return self._tree

    def append(self, cur: Cursor, rows: Sequence[EventRow]) -> list[int]:
        """Append events, their chain links and the Merkle tree nodes they complete, in
        the caller's transaction.

        The append lock is taken first, so reading the chain's head and linking after it
        cannot interleave with another writer: concurrent writers make one linear chain
        (and one tree).
        """
        from ledger.integrity.encoding import link_hash

        if not rows:
            return []
        self.lock_appends(cur)
        ids = self.insert_events(cur, rows)
        head = self.chain_head(cur)
        position, previous = head.position, head.hash
        links = []
        for nid, (oid, version, topic, state) in zip(ids, rows, strict=True):
            position += 1
            previous = link_hash(previous, position, nid, oid.hex(), version, topic, state)
            links.append((position, nid, oid, version, previous))
        self.insert_links(cur, links)
        self.tree().append(cur, head, links)
        return ids

    def chain_head(self, cur: Cursor) -> ChainHead:
        cur.execute(f"SELECT position, hash FROM {self.chain_table} ORDER BY position DESC LIMIT 1")
        row = cur.fetchone()
        return ChainHead(int(row[0]), bytes(row[1])) if row else ChainHead(0, bytes(32))

    # -- reading the log -----------------------------------------------------------------

    def max_event_id(self, cur: Cursor) -> int:
        cur.execute(f"SELECT max(id) FROM {self.events_table}")
        row = cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0


def store_for(target: str, events_table: str = EVENTS_TABLE) -> EventStore:
    """The backend of a ``--db`` target: a SQLite path (or ``sqlite:`` URL) or PostgreSQL."""
    if not is_url(target) or target.lower().startswith("sqlite"):
        from ledger.backends.sqlite import SqliteStore

        return SqliteStore(events_table)
    if target.lower().startswith(("postgresql", "postgres")):
        from ledger.backends.postgresql import PostgresStore

        return PostgresStore(events_table)
    from ledger.targets import safe_target

    raise StorageUnavailable(
        f"cannot open the ledger at {safe_target(target)}: "
        "not a SQLite path or a supported database URL"
    )
