"""The event store on a SQLite file.

Appends: SQLite has one writer at a time and numbers new rows max(id) + 1, in order, so
the write lock that the first INSERT takes is the append lock, and a batch's ids are the
last ``n`` of the table (checked before anything commits).

A batch goes in as one ``INSERT … SELECT … FROM json_each(?)``: its record ids and states
are each concatenated into one blob and a JSON array says where each event's bytes are.
Python's ``sqlite3`` releases the GIL only inside each row's step of an ``executemany``;
one statement runs the whole batch in one step, so an encoding thread never waits on the
inserting one, and binding costs a join instead of four conversions per row. Rows come out
of the database exactly as sent: ``substr`` of a blob is a blob, byte for byte.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ledger.backends import (
    Connection,
    Cursor,
    EventRow,
    EventStore,
    Node,
)
from ledger.errors import LedgerNotInitialised, StorageUnavailable

BUSY_TIMEOUT_MS = 5_000
SCRATCH_CACHE_KIB = 256 * 1024  # while a scratch copy's index is built
# a bound blob stays well under SQLite's default length limit (1,000,000,000 bytes)
PART_BYTES = 64 * 1024 * 1024

_EVENTS_INSERT = (
    "INSERT INTO {table} (originator_id, originator_version, topic, state) "
    "SELECT substr(?1, 16 * j.key + 1, 16), j.value ->> 0, ?4 ->> (j.value ->> 1), "
    "substr(?2, j.value ->> 2, j.value ->> 3) FROM json_each(?3) AS j"
)
_LINKS_INSERT = (
    "INSERT INTO {table} "
    "(position, notification_id, originator_id, originator_version, hash) "
    "SELECT ?1 + j.key, ?2 + j.key, lower(hex(substr(?3, 16 * j.key + 1, 16))), "
    "j.value, substr(?4, 32 * j.key + 1, 32) FROM json_each(?5) AS j"
)
_NODES_INSERT = (
    "INSERT INTO {table} (position, height, hash) "
    "SELECT j.value ->> 0, j.value ->> 1, substr(?2, 32 * j.key + 1, 32) FROM json_each(?1) AS j"
)

# the append-only triggers: RAISE(ABORT) fails the statement (and nothing it did stays)
_REFUSE = (
    "CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {statement} ON {table} "
    "BEGIN SELECT RAISE(ABORT, '{table} is append-only: {what} are never {done}{hint}'); END"
)
_PROTECTED = (
    ("events", " (a correction or a retraction is a new event)"),
    ("chain links", ""),
    ("Merkle tree nodes", ""),
)
_VERBS = (("update", "UPDATE", "updated"), ("delete", "DELETE", "deleted"))


# what SQLite's errors mean for a user, by the words of their message
_FAILURES = (
    (("locked", "busy"), "the ledger is busy: another process is writing to it; try again"),
    (("readonly", "read-only"), "the ledger at {target} is read-only (its file or folder "
     "cannot be written); nothing was written"),
    (("disk is full", "disk full"), "the disk is full; nothing was written"),
    (("not a database", "file is encrypted"), "{target} is not a ledger (not a SQLite file)"),
    (("malformed", "corrupt"), "the ledger file {target} is damaged; restore it from a copy"),
    (("unable to open", "disk i/o error"), "cannot open or write the ledger file {target}"),
)  # fmt: skip


def sqlite_path(target: str) -> str:
    """The file of a ``--db`` target: a path, or a ``sqlite:///`` URL."""
    if target.lower().startswith("sqlite:///"):
        return target[len("sqlite:///") :]
    return str(Path(target).expanduser().resolve())


def parts(rows: Sequence[EventRow]) -> Iterator[tuple[int, tuple[bytes, bytes, bytes, bytes]]]:
    """The rows as the set-based INSERT binds them, in parts of at most PART_BYTES of
    state: (number of rows, (originator ids, states, [[version, topic number, offset,
    length], ...], topics))."""
    import msgspec

    encode = msgspec.json.Encoder().encode
    start = 0
    while start < len(rows):
        topics: dict[str, int] = {}
        meta = []
        offset = 1
        end = start
        while end < len(rows) and (end == start or offset <= PART_BYTES):
            _, version, topic, state = rows[end]
            meta.append((version, topics.setdefault(topic, len(topics)), offset, len(state)))
            offset += len(state)
            end += 1
        chunk = rows[start:end]
        yield (
            end - start,
            (
                b"".join(r[0] for r in chunk),
                b"".join(r[3] for r in chunk),
                encode(meta),
                encode(list(topics)),
            ),
        )
        start = end


class SqliteStore(EventStore):
    name = "sqlite"

    def check_target(self, url: str, *, create: bool) -> None:
        path = Path(sqlite_path(url))
        if create and not path.parent.is_dir():
            raise StorageUnavailable(f"cannot create a ledger in {path.parent}: no such directory")
        if not create and not path.is_file():
            raise LedgerNotInitialised(str(path))

    def connect(self, url: str) -> Connection:
        path = sqlite_path(url)
        if not Path(path).is_file():
            raise LedgerNotInitialised(url)
        try:
            conn = sqlite3.connect(
                f"file:{path}?mode=rw", uri=True, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.Error as error:
            raise StorageUnavailable(f"cannot open the ledger at {path}: {error}") from None
        return conn

    @contextmanager
    def transaction(self, conn: Connection) -> Iterator[Cursor]:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")  # the write lock now, not at the first write
        try:
            yield cur
        except BaseException:
            conn.rollback()
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    @contextmanager
    def snapshot(self, conn: Connection) -> Iterator[Cursor]:
        cur = conn.cursor()
        cur.execute("BEGIN")  # in WAL mode, every read in it sees the same state
        try:
            yield cur
        finally:
            conn.rollback()
            cur.close()

    def has_table(self, cur: Cursor, name: str) -> bool:
        cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return cur.fetchone() is not None

    @contextmanager
    def scratch(self, url: str, position: int) -> Iterator[str]:
        """A copy of the events and links up to ``position`` in a file of its own (in the
        system's temporary folder), with the ledger's own table and index definitions."""
        import shutil
        import tempfile

        folder = tempfile.mkdtemp(prefix="dledger-scratch-")
        path = str(Path(folder) / "scratch.db")
        try:
            conn = sqlite3.connect(f"file:{path}", uri=True, isolation_level=None)
            try:
                # a throwaway file: no journal while it is filled, WAL for the readers after
                conn.execute("PRAGMA journal_mode = OFF")
                conn.execute("PRAGMA synchronous = OFF")
                conn.execute(f"PRAGMA cache_size = -{SCRATCH_CACHE_KIB}")
                conn.execute("ATTACH DATABASE ? AS log", (f"file:{sqlite_path(url)}?mode=ro",))
                conn.execute("BEGIN")
                definitions = conn.execute(
                    "SELECT sql FROM log.sqlite_master WHERE tbl_name IN (?, ?) AND sql IS NOT "
                    "NULL AND type IN ('table', 'index') ORDER BY type = 'index'",
                    (self.events_table, self.chain_table),
                ).fetchall()
                for (statement,) in definitions:
                    conn.execute(statement)
                conn.execute(
                    f"INSERT INTO main.{self.events_table} SELECT * FROM log.{self.events_table} "
                    "WHERE id <= ?",
                    (position,),
                )
                conn.execute(
                    f"INSERT INTO main.{self.chain_table} SELECT * FROM log.{self.chain_table} "
                    "WHERE notification_id <= ?",
                    (position,),
                )
                conn.execute("COMMIT")
                conn.execute("DETACH DATABASE log")
                conn.execute("PRAGMA journal_mode = WAL")
            finally:
                conn.close()
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def is_conflict(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.IntegrityError)

    # -- the integrity schema ------------------------------------------------------------

    def has_column(self, cur: Cursor, table: str, column: str) -> bool:
        cur.execute("SELECT 1 FROM pragma_table_info(?) WHERE name = ?", (table, column))
        return cur.fetchone() is not None

    def add_user_column(self, cur: Cursor, column: str) -> None:
        cur.execute(f"ALTER TABLE {self.chain_table} ADD COLUMN {column} TEXT")

    def create_tree_table(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.tree_table} (position INTEGER NOT NULL, "
            "height INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (position, height)) "
            "WITHOUT ROWID"
        )

    def _triggers(self) -> dict[str, str]:
        return {
            f"{table}_no_{verb}": _REFUSE.format(
                table=table, verb=verb, statement=statement, what=what, done=done, hint=hint
            )
            for table, (what, hint) in zip(self.protected_tables, _PROTECTED, strict=True)
            for verb, statement, done in _VERBS
        }

    def is_protected(self, cur: Cursor) -> bool:
        names = list(self._triggers())
        marks = ", ".join("?" for _ in names)
        cur.execute(
            f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})",
            names,
        )
        return int(cur.fetchone()[0]) == len(names)

    def protect(self, cur: Cursor) -> None:
        for statement in self._triggers().values():
            cur.execute(statement)

    def failure(self, error: BaseException, target: str) -> str | None:
        if not isinstance(error, sqlite3.Error):
            return None
        text = str(error).lower()
        for words, meaning in _FAILURES:
            if any(w in text for w in words):
                return meaning.format(target=target)
        return f"the ledger's database failed: {error}"

    def insert_events(self, cur: Cursor, rows: Sequence[EventRow]) -> list[int]:
        for _, params in parts(rows):
            cur.execute(_EVENTS_INSERT.format(table=self.events_table), params)
        cur.execute(f"SELECT max(id) FROM {self.events_table}")
        last = int(cur.fetchone()[0])
        first = last - len(rows) + 1
        cur.execute(
            f"SELECT id, originator_id, originator_version FROM {self.events_table} "
            "WHERE id IN (?, ?)",
            (first, last),
        )
        found = {int(r[0]): (bytes(r[1]), int(r[2])) for r in cur.fetchall()}
        if found != {first: (rows[0][0], rows[0][1]), last: (rows[-1][0], rows[-1][1])}:
            raise RuntimeError("notification ids out of step with the inserted events")
        return list(range(first, last + 1))

    def insert_links(
        self, cur: Cursor, links: Sequence[tuple[int, int, bytes, int, bytes]]
    ) -> None:
        import json

        if not links:
            return
        position, nid = links[0][0], links[0][1]
        for i, (p, n, *_rest) in enumerate(links):  # one statement needs them consecutive
            if (p, n) != (position + i, nid + i):
                raise RuntimeError("chain links out of step with the inserted events")
        cur.execute(
            _LINKS_INSERT.format(table=self.chain_table),
            (
                position,
                nid,
                b"".join(link[2] for link in links),
                b"".join(link[4] for link in links),
                json.dumps([link[3] for link in links]),
            ),
        )

    def insert_nodes(self, cur: Cursor, nodes: Sequence[Node]) -> None:
        # one statement, as for the links: an executemany would give up the interpreter
        # lock at every row, and wait for it again while the encoding thread holds it
        import json

        if not nodes:
            return
        cur.execute(
            _NODES_INSERT.format(table=self.tree_table),
            (json.dumps([(p, h) for p, h, _ in nodes]), b"".join(n[2] for n in nodes)),
        )


def is_busy(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)
