"""The event store on PostgreSQL, through psycopg 3.

Appends are serialised by a transaction-scoped advisory lock, taken before any id is
drawn and held until commit, so notification ids commit in increasing order and the
chain's head cannot move under a writer. (eventsourcing-sqlalchemy's own recorder takes
``LOCK TABLE … IN EXCLUSIVE MODE``, which a role with only INSERT and SELECT on the table
may not take; the advisory lock needs no privilege and blocks no reader.) A batch's ids
are drawn from the events table's own sequence, then the rows go in by one ``COPY``.

Every session runs with ``jit = off``: the ledger's statements are index seeks and
page-sized copies, and on a log that just grew by millions of rows PostgreSQL's stale
estimates made it compile statements to machine code that took longer to compile than
to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit
from uuid import UUID

from ledger.backends import (
    Connection,
    Cursor,
    EventRow,
    EventStore,
    Node,
    Role,
)
from ledger.errors import InvalidInput, StorageUnavailable

APPEND_LOCK = 0x646C6567  # "dleg": one appender at a time, for the whole transaction
NO_JIT = "-c jit=off"
# the append-only triggers' function: one statement-level trigger per table refuses every
# UPDATE, DELETE and TRUNCATE before it touches a row
_REFUSE = """CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused (events, chain links and Merkle tree nodes '
        'are never changed or removed; a correction or a retraction is a new event)',
        TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$"""


def connect_arguments(url: str) -> dict[str, Any]:
    """libpq keywords of an SQLAlchemy-style URL (``postgresql+psycopg://u:p@h:5432/db?…``)."""
    parts = urlsplit(url)
    arguments: dict[str, Any] = {}
    if parts.hostname:
        arguments["host"] = parts.hostname
    if parts.port:
        arguments["port"] = parts.port
    if parts.username:
        arguments["user"] = unquote(parts.username)
    if parts.password is not None:
        arguments["password"] = unquote(parts.password)
    if parts.path.strip("/"):
        arguments["dbname"] = unquote(parts.path.lstrip("/"))
    arguments.update(parse_qsl(parts.query))
    arguments["options"] = f"{NO_JIT} {arguments.get('options', '')}".strip()
    return arguments


class PostgresStore(EventStore):
    name = "postgresql"
    placeholder = "%s"

    def write_url(self, url: str) -> str:
        return _with_options(url, NO_JIT)

    def connect(self, url: str) -> Connection:
        import psycopg

        from ledger.targets import safe_target, scrub

        try:
            return psycopg.connect(**connect_arguments(url), autocommit=True)
        except psycopg.Error as error:
            reason = scrub(str(error).strip().splitlines()[0] if str(error) else "", url)
            raise StorageUnavailable(
                f"cannot open the ledger at {safe_target(url)}: {reason or type(error).__name__}"
            ) from None

    def sql(self, statement: str) -> str:
        return statement.replace("%", "%%").replace("?", "%s")

    @contextmanager
    def transaction(self, conn: Connection) -> Iterator[Cursor]:
        with conn.transaction(), conn.cursor() as cur:
            yield cur

    @contextmanager
    def snapshot(self, conn: Connection) -> Iterator[Cursor]:
        import psycopg

        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            with conn.transaction(force_rollback=True), conn.cursor() as cur:
                yield cur
        finally:
            conn.isolation_level = None
            conn.read_only = None

    @contextmanager
    def streaming(self, conn: Connection) -> Iterator[Cursor]:
        # a server-side cursor: psycopg's ordinary one holds the whole result in memory
        import psycopg

        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            with conn.transaction(force_rollback=True), conn.cursor(name="dledger_stream") as cur:
                yield cur
        finally:
            conn.isolation_level = None
            conn.read_only = None

    def has_table(self, cur: Cursor, name: str) -> bool:
        cur.execute("SELECT to_regclass(%s)", (name,))
        row = cur.fetchone()
        return row is not None and row[0] is not None

    @contextmanager
    def scratch(self, url: str, position: int) -> Iterator[str]:
        """A schema of its own whose events and chain tables are views of the ledger's, up
        to ``position``; the target returned searches that schema only."""
        import secrets

        name = f"dledger_scratch_{secrets.token_hex(6)}"
        conn = self.connect(url)
        try:
            with self.transaction(conn) as cur:
                cur.execute("SELECT current_schema()")
                home = cur.fetchone()[0]
                cur.execute(f"CREATE SCHEMA {name}")
                for table, column in (
                    (self.events_table, "id"),
                    (self.chain_table, "notification_id"),
                ):
                    cur.execute(
                        f'CREATE VIEW {name}.{table} AS SELECT * FROM "{home}".{table} '
                        f"WHERE {column} <= {int(position)}"
                    )
            yield _with_options(url, f"-c search_path={name}")
        finally:
            try:
                with self.transaction(conn) as cur:
                    cur.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            finally:
                conn.close()

    def originator_param(self, record_id: UUID) -> Any:
        return record_id

    # -- the integrity schema ------------------------------------------------------------

    def has_column(self, cur: Cursor, table: str, column: str) -> bool:
        cur.execute(
            "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s "
            "AND NOT attisdropped",
            (table, column),
        )
        return cur.fetchone() is not None

    def add_user_column(self, cur: Cursor, column: str) -> None:
        # the existing links stay NULL (who wrote them is not known); new ones get the
        # session's user from the database itself, not from the writer
        cur.execute(f"ALTER TABLE {self.chain_table} ADD COLUMN {column} text")
        cur.execute(
            f"ALTER TABLE {self.chain_table} ALTER COLUMN {column} SET DEFAULT session_user"
        )

    def create_tree_table(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.tree_table} (position bigint NOT NULL, "
            "height smallint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (position, height))"
        )

    @property
    def _function(self) -> str:
        return self.events_table.removesuffix("_events") + "_append_only"

    def is_protected(self, cur: Cursor) -> bool:
        cur.execute(
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled IN ('O', 'A') "
            "AND tgfoid = to_regprocedure(%s) AND tgrelid IN (to_regclass(%s), to_regclass(%s), "
            "to_regclass(%s))",
            (f"{self._function}()", *self.protected_tables),
        )
        return int(cur.fetchone()[0]) == len(self.protected_tables)

    def protect(self, cur: Cursor) -> None:
        cur.execute(_REFUSE.format(function=self._function))
        for table in self.protected_tables:
            cur.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            cur.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {self._function}()"
            )

    def grant_roles(
        self, cur: Cursor, roles: Sequence[Role], read_models: Sequence[str]
    ) -> list[str]:
        """Each role may log in and has, on the log, only what its kind needs: a writer
        SELECT and INSERT on the events, chain (not its db_user column, which the database
        fills in) and tree tables and USAGE on the events' id sequence; a reader SELECT.
        Both may keep the read models up to date (rows only, no DDL). A role that exists is
        updated, unless it is a superuser or can act as the tables' owner."""
        from psycopg import sql

        cur.execute(
            "SELECT current_schema(), pg_get_serial_sequence(%s, 'id')", (self.events_table,)
        )
        schema, sequence = cur.fetchone()
        cur.execute("SELECT tableowner FROM pg_tables WHERE schemaname = %s AND tablename = %s",
                    (schema, self.events_table))  # fmt: skip
        owner = cur.fetchone()[0]
        done = []
        for role in roles:
            who = sql.Identifier(role.name)
            cur.execute(
                "SELECT rolsuper, pg_has_role(oid, %s, 'USAGE') FROM pg_roles WHERE rolname = %s",
                (owner, role.name),
            )
            found = cur.fetchone()
            if found is not None and (found[0] or found[1]):
                raise InvalidInput(
                    f"role {role.name} exists and is a superuser or acts as the owner of the "
                    "ledger's tables (it could drop the append-only triggers): choose another name"
                )
            verb = "CREATE" if found is None else "ALTER"
            cur.execute(sql.SQL(verb + " ROLE {} LOGIN").format(who))
            if role.password is not None:
                cur.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(who, sql.Literal(role.password))
                )
            cur.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), who)
            )
            for table in self.protected_tables:
                cur.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), who))
                cur.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(table), who))
            if role.kind == "writer":
                for table in (self.events_table, self.tree_table):
                    cur.execute(
                        sql.SQL("GRANT INSERT ON {} TO {}").format(sql.Identifier(table), who)
                    )
                columns = sql.SQL(", ").join(
                    sql.Identifier(c)
                    for c in (
                        "position",
                        "notification_id",
                        "originator_id",
                        "originator_version",
                        "hash",
                    )
                )
                cur.execute(
                    sql.SQL("GRANT INSERT ({}) ON {} TO {}").format(
                        columns, sql.Identifier(self.chain_table), who
                    )
                )
                cur.execute(
                    sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(sql.SQL(sequence), who)
                )
            for table in read_models:
                cur.execute(
                    sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                        sql.Identifier(table), who
                    )
                )
            # read-model tables a rebuild creates again get the same (the log's tables exist)
            cur.execute(
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT, INSERT, UPDATE, DELETE "
                    "ON TABLES TO {}"
                ).format(sql.Identifier(schema), who)
            )
            password = ", with the password given" if role.password is not None else ""
            rights = "SELECT and INSERT" if role.kind == "writer" else "SELECT"
            done.append(
                f"{'created' if found is None else 'updated'} role {role.name} ({role.kind}: "
                f"{rights} on the log, rows of the read models{password})"
            )
        return done

    def is_denied(self, error: BaseException) -> bool:
        from psycopg import errors

        return isinstance(error, errors.InsufficientPrivilege)

    def is_conflict(self, error: BaseException) -> bool:
        import psycopg

        return isinstance(error, psycopg.IntegrityError)

    def failure(self, error: BaseException, target: str) -> str | None:
        import psycopg
        from psycopg import errors

        from ledger.targets import safe_target

        if not isinstance(error, psycopg.Error):
            return None
        line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if isinstance(error, errors.DiskFull):
            return "the database server's disk is full; nothing was written"
        if isinstance(error, errors.LockNotAvailable | errors.DeadlockDetected):
            return "the ledger is busy: another process holds it; try again"
        if isinstance(error, errors.InsufficientPrivilege):
            return f"the database user may not do this: {line}"
        if isinstance(error, errors.ReadOnlySqlTransaction):
            return "the database is read-only here; nothing was written"
        if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
            return f"cannot reach the ledger's database at {safe_target(target)}: {line}"
        return f"the ledger's database failed: {line}"

    def lock_appends(self, cur: Cursor) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))

    def insert_events(self, cur: Cursor, rows: Sequence[EventRow]) -> list[int]:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            (self.events_table, len(rows)),
        )
        ids = sorted(int(r[0]) for r in cur.fetchall())
        copy_rows(
            cur,
            self.events_table,
            ("id", "originator_id", "originator_version", "topic", "state"),
            (
                (i, UUID(bytes=oid), version, topic, state)
                for i, (oid, version, topic, state) in zip(ids, rows, strict=True)
            ),
        )
        return ids

    def insert_links(
        self, cur: Cursor, links: Sequence[tuple[int, int, bytes, int, bytes]]
    ) -> None:
        copy_rows(
            cur,
            self.chain_table,
            ("position", "notification_id", "originator_id", "originator_version", "hash"),
            ((p, n, oid.hex(), v, h) for p, n, oid, v, h in links),
        )

    def insert_nodes(self, cur: Cursor, nodes: Sequence[Node]) -> None:
        copy_rows(cur, self.tree_table, ("position", "height", "hash"), nodes)


def _with_options(url: str, options: str) -> str:
    """The URL with ``options`` (server settings, ``-c name=value``) before its own."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    given = dict(parse_qsl(parts.query)).get("options", "")
    query.append(("options", f"{options} {given}".strip()))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def copy_rows(
    cur: Cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """``COPY … FROM STDIN``: no SQL text to build per batch, no per-row parameters."""
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
