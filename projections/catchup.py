"""Feeding the figure table from the event log, exactly once.

Each page of notifications is applied in one transaction together with the new tracking
position, and the position moves only if it still holds the value this process read
(a conditional UPDATE): two processes catching up at once cannot both apply a page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, StoredEvent
from eventsourcing.utils import get_topic
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.schema import CreateIndex, DropIndex

from ledger.application import Ledger
from ledger.errors import LedgerError
from ledger.locations import LocationIndex
from ledger.pgcopy import copy_rows
from ledger.records import FigureRecord
from ledger.snapshots import NamedSnapshot
from ledger.storage import EVENTS_TABLE
from projections.prefetch import SCHEMA as SCRATCH
from projections.prefetch import Parsed, Prefetch
from projections.schema import (
    SCHEMA_VERSION,
    VIEW_FIGURES,
    VIEW_LEAD,
    VIEW_SCHEMA,
    ancestry,
    details,
    metadata,
    positions,
    read_position,
    read_position_or_none,
    select_versions,
    snapshots,
    to_micros,
    versions,
)

PAGE_SIZE = 10_000
_DDL_LOCK = 0x646C6564  # "dled": serialises read-model DDL across processes (PostgreSQL)
BULK_BACKLOG = 50_000  # SQLite: from this many events behind, load first and index after
SQLITE_CACHE_KIB = 32 * 1024
SQLITE_SORT_KIB = 2 * 1024
_RECORDED = get_topic(FigureRecord.Recorded)
_CORRECTED = get_topic(FigureRecord.Corrected)
_RETRACTED = get_topic(FigureRecord.Retracted)
_FIGURE_TOPICS = {_RECORDED: "recorded", _CORRECTED: "corrected", _RETRACTED: "retracted"}
_SNAPSHOT = get_topic(NamedSnapshot.Taken)

Page = list[tuple[int, Any, int, str, bytes]]  # id, originator id, version, topic, state


class UnreadableEvent(LedgerError):
    """A stored event the read models cannot decode: the log was altered outside the ledger."""

    def __init__(self, position: int, record_id: UUID, version: int) -> None:
        super().__init__(
            f"the event at log position {position} (record {record_id} version {version}) "
            "cannot be read: the log was altered outside the ledger; run `dledger verify`"
        )


class ProjectionRace(Exception):
    """Another process moved the tracking position first; the page was rolled back."""


class NotSetBased(Exception):
    """A page the set-based insert could not take whole (an unknown location, an event in
    an unusual encoding, an unreadable state): it is applied row by row instead."""


@dataclass(frozen=True)
class CatchUp:
    applied: int
    position: int


@dataclass(frozen=True)
class Span:
    """One page of the log: its last position, its number of events, the events applied
    in Python, how many new records the set-based insert copies (0: none, they are
    among ``rows``), and where a prefetch parsed them, if one did."""

    last: int
    size: int
    rows: Page
    new: int
    parsed: Parsed | None = None  # the new records, parsed ahead into the scratch table


@dataclass(frozen=True)
class Change:
    """One figure-record event as the projection needs it: decoded state, no object."""

    position: int
    record_id: str  # hex
    version: int
    action: str  # recorded | corrected | retracted
    at: int  # the event's timestamp, µs since the epoch
    state: dict[str, Any]


def engine_of(ledger: Ledger) -> Engine:
    engine = ledger.recorder.datastore.engine  # type: ignore[attr-defined]
    if not isinstance(engine, Engine):  # pragma: no cover - open_ledger always sets one
        raise TypeError("the ledger has no SQLAlchemy engine")
    return engine


_BY_POSITIONS = select_versions().where(
    versions.c.position.in_(bindparam("positions", expanding=True))
)
_SEEDED = select(positions.c.position).where(positions.c.view == VIEW_FIGURES)


def ensure_tables(engine: Engine) -> None:
    """Create the read-model tables and the tracking row (position 0) if missing.

    Tables in an older layout (no schema row, or another version in it) are dropped
    first: read models hold nothing the log does not, and the next catch-up refills them.

    Two processes starting at once would both find a table missing and both create it;
    on PostgreSQL a transaction-scoped advisory lock makes them take turns, on SQLite
    the loser's "already exists" is retried (and then finds the table).
    """
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK})
                if inspect(conn).has_table(positions.name):
                    layout = read_position(conn, VIEW_SCHEMA)
                    if layout != SCHEMA_VERSION:
                        metadata.drop_all(conn, checkfirst=True)
                metadata.create_all(conn, checkfirst=True)
                if not read_position(conn, VIEW_SCHEMA):
                    conn.execute(
                        insert(positions).values(view=VIEW_SCHEMA, position=SCHEMA_VERSION)
                    )
            break
        except DBAPIError:
            if attempt == 2:
                raise
    try:
        with engine.begin() as conn:
            seeded = conn.execute(
                select(func.count()).select_from(positions).where(positions.c.view == VIEW_FIGURES)
            ).scalar()
            if not seeded:
                conn.execute(insert(positions).values(view=VIEW_FIGURES, position=0))
    except IntegrityError:  # another process seeded it at the same moment
        pass


def _present_indexes(conn: Connection, names: set[str]) -> set[str]:
    """Which of these indexes of the figure table exist (a catalogue read, no lock)."""
    if conn.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table"
    else:
        query = (
            "SELECT indexname FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = :table"
        )
    found = conn.execute(text(query), {"table": versions.name}).scalars()
    return {str(name) for name in found if name in names}


def log_head(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


class FigureProjection:
    """The bitemporal figure table and how it follows the log.

    Three ways to apply a page, all producing the same rows:

    * ``decode="sql"`` (the default when the application stores plain JSON): the page's
      new records, nearly all of the log, are copied from the events table into the
      figure table by one ``INSERT ... SELECT`` that reads their JSON in the database
      (``json_extract`` on SQLite, ``json_to_record`` on PostgreSQL) and joins
      ``dlp_locations`` for the ancestor columns; corrections, retractions and snapshots,
      which depend on the previous version, are then applied in Python as below. A page
      the statement cannot take whole falls back to the row-by-row path.
    * ``decode="json"``: every figure-record state decoded from its JSON in Python.
    * ``decode="mapper"``: the straightforward path (the library's notification reader
      and mapper, full domain-event objects), kept as the reference that
      tests/test_speed_equivalence.py compares the fast paths with.
    """

    def __init__(self, ledger: Ledger, *, decode: str = "sql") -> None:
        self.ledger = ledger
        self.engine = engine_of(ledger)
        ensure_tables(self.engine)
        self._index: LocationIndex | None = None
        self._ancestry: dict[str, dict[str, str | None]] = {}
        mapper = ledger.mapper
        plain = (
            type(mapper.transcoder) is JSONTranscoder
            and not mapper.compressor
            and not mapper.cipher
        )
        self.decode = decode if plain else "mapper"
        self.sqlite = self.engine.dialect.name == "sqlite"
        self._page = text(
            f"SELECT id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
            "WHERE id > :after ORDER BY id LIMIT :size"
        )
        # the set-based path: where the page ends, and the events it applies in Python
        self._page_end = text(
            f"SELECT count(*), max(id) FROM (SELECT id FROM {EVENTS_TABLE} "
            "WHERE id > :after ORDER BY id LIMIT :size) AS page"
        )
        self._page_others = text(
            f"SELECT id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
            "WHERE id > :after AND id <= :last AND topic <> :recorded ORDER BY id"
        )
        self._page_between = text(
            f"SELECT id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
            "WHERE id > :after AND id <= :last ORDER BY id"
        )
        self._insert_new = [
            (text(sql), checked)
            for sql, checked in (_INSERT_RECORDED_SQLITE if self.sqlite else _INSERT_RECORDED_PG)
        ]
        self._copy_parsed = [text(sql) for sql in _copy_sqlite(f"{SCRATCH}.dlp_new", ranged=True)]
        recorded_day = (
            "julianday(date(recorded_at / 1000000, 'unixepoch'))"
            if self.sqlite
            else "(to_timestamp(recorded_at / 1000000) AT TIME ZONE 'UTC')::date"
        )
        day = "julianday(day)" if self.sqlite else "day"
        self._page_lead = text(
            f"SELECT max(CAST({day} - {recorded_day} AS INTEGER)) FROM dlp_versions "
            "WHERE position > :after AND position <= :last"
        )
        self._locations_synced = False
        self.pages_row_by_row = 0  # set-based pages that had to fall back (tests read it)
        self.pages_prefetched = 0  # pages whose new records a second thread parsed

    def position(self) -> int:
        with self.engine.connect() as conn:
            return read_position(conn)

    def catch_up(self, progress: Callable[[int], None] | None = None) -> CatchUp:
        """Apply every notification after the tracking position; returns what was done.

        A large backlog (a rebuild, a first read after a bulk import) is loaded without
        the figure table's secondary indexes, which are built once at the end: sorting
        once is several times cheaper than maintaining six B-trees row by row. An
        interrupted load leaves them missing; every catch-up first creates any index that
        is missing, so they are back before the next read (indexes change speed, never
        results). On PostgreSQL the index DDL takes the read models' advisory lock, so
        two processes catching up at once take turns at it.
        """
        self._create_indexes()
        self._locations_synced = False  # the gazetteer may have changed since the last call
        start = self.position()
        bulk = log_head(self.ledger) - start >= BULK_BACKLOG
        if bulk:
            with self.engine.begin() as conn:
                self._lock_ddl(conn)
                for index in versions.indexes:
                    conn.execute(DropIndex(index, if_exists=True))
        try:
            prefetch = self._prefetch(start) if bulk else None
            if prefetch is None:
                return self._catch_up(progress, None, None)
            with self.engine.connect() as conn:
                conn.exec_driver_sql(f"ATTACH DATABASE ? AS {SCRATCH}", (prefetch.path,))
                conn.commit()
                try:
                    return self._catch_up(progress, prefetch, conn)
                finally:
                    prefetch.close()
                    try:
                        conn.rollback()
                        conn.exec_driver_sql(f"DETACH DATABASE {SCRATCH}")
                        conn.commit()
                    except DBAPIError:  # pragma: no cover - never back to the pool attached
                        conn.invalidate()
        finally:
            if bulk:
                self._create_indexes()

    def _prefetch(self, start: int) -> Prefetch | None:
        """A second thread parsing pages ahead (projections.prefetch), where it can help:
        SQLite in a file, the set-based path. The locations it joins are brought in line
        with the gazetteer first, in a transaction of their own, so both connections see
        the same ones."""
        database = self.engine.url.database
        if not self.sqlite or self.decode != "sql" or not database or database == ":memory:":
            return None
        if database.startswith("file:"):
            return None
        with self.engine.begin() as conn:
            self._sync_locations(conn)
        return Prefetch(
            database,
            start,
            page_size=PAGE_SIZE,
            page_end=str(self._page_end),
            fill=_fill_sqlite(f"{SCRATCH}.dlp_new"),
            columns=_NEW.removeprefix("id, "),
            topic=_RECORDED,
        )

    def _lock_ddl(self, conn: Connection) -> None:
        if not self.sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK})

    def _create_indexes(self) -> None:
        names = {str(index.name) for index in versions.indexes}
        with self.engine.begin() as conn:
            if _present_indexes(conn, names) == names:
                return
            self._lock_ddl(conn)
            if self.sqlite:
                # an index build sorts in runs of about the page cache's size, merged at
                # the end; runs of a few MB stay in the CPU's caches and two threads sort
                # them: 30-40% faster than one sort in a large page cache, in less memory
                conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_SORT_KIB}")
                conn.exec_driver_sql("PRAGMA threads = 2")
            for index in versions.indexes:
                conn.execute(CreateIndex(index, if_not_exists=True))

    def _catch_up(
        self,
        progress: Callable[[int], None] | None,
        prefetch: Prefetch | None,
        held: Connection | None,
    ) -> CatchUp:
        """Page after page to the head; with a prefetch, on ``held``, the connection the
        scratch database is attached to."""
        applied = 0
        while True:
            start = self.position()
            parsed = prefetch.take(start) if prefetch is not None else None
            span = self._span(start, parsed)
            if span is None:
                return CatchUp(applied, start)
            if parsed is not None and span.parsed is None and prefetch is not None:
                prefetch.close()  # out of step with the log as this connection reads it
            try:
                self._apply_page(start, span, held)
            except ProjectionRace:
                continue
            except NotSetBased:
                if prefetch is not None:
                    prefetch.close()  # the locations may be synced again: parse in line
                self.pages_row_by_row += 1
                everything = self._read_between(start, span.last)
                try:
                    self._apply_page(start, Span(span.last, span.size, everything, 0), held)
                except ProjectionRace:
                    continue
                self._locations_synced = False  # the row-by-row path may have reloaded them
            if prefetch is not None:
                prefetch.applied(span.last)
            applied += span.size
            if progress is not None:
                progress(span.size)

    def _apply_page(self, start: int, span: Span, held: Connection | None = None) -> None:
        """One page and the tracking position that follows it, in one transaction."""
        if held is None:
            with self.engine.begin() as conn:
                self._write_page(conn, start, span)
        else:
            with held.begin():
                self._write_page(held, start, span)

    def _write_page(self, conn: Connection, start: int, span: Span) -> None:
        if self.sqlite:
            conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        self._claim(conn, start, span.last)
        if span.new:
            self._insert_recorded(conn, start, span)
        self._apply(conn, span.rows)
        self._raise_lead(conn, start, span.last)

    def _raise_lead(self, conn: Connection, start: int, last: int) -> None:
        """Keep the ``lead_days`` bound (projections.schema.VIEW_LEAD) over the rows just
        written; it only grows, and a rebuild recomputes it from nothing."""
        lead = conn.execute(self._page_lead, {"after": start, "last": last}).scalar()
        if lead is None:
            return
        lead = int(lead)
        moved = conn.execute(
            update(positions)
            .where(and_(positions.c.view == VIEW_LEAD, positions.c.position < lead))
            .values(position=lead)
        ).rowcount
        if not moved and read_position_or_none(conn, VIEW_LEAD) is None:
            conn.execute(insert(positions).values(view=VIEW_LEAD, position=lead))

    def _span(self, after: int, parsed: Parsed | None = None) -> Span | None:
        """The next page of the log, or None at its head.

        In set-based mode only the events applied in Python are fetched (with their
        states); the new records stay in the database for ``_insert_recorded``, or, if a
        prefetch ``parsed`` this page and took every one of them, in its scratch table."""
        if self.decode == "mapper":
            notes = self.ledger.recorder.select_notifications(
                after + 1, PAGE_SIZE, inclusive_of_start=True
            )
            page = [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in notes]
            return Span(page[-1][0], len(page), page, 0) if page else None
        with self.engine.connect() as conn:
            if self.decode == "json":
                rows = conn.execute(self._page, {"after": after, "size": PAGE_SIZE}).all()
                page = [(r[0], r[1], r[2], r[3], r[4]) for r in rows]
                return Span(page[-1][0], len(page), page, 0) if page else None
            if parsed is not None:
                size, last = parsed.size, parsed.last
            else:
                size, last = conn.execute(self._page_end, {"after": after, "size": PAGE_SIZE}).one()
            if not size:
                return None
            params = {"after": after, "last": last, "recorded": _RECORDED}
            rows = conn.execute(self._page_others, params).all()
        page = [(r[0], r[1], r[2], r[3], r[4]) for r in rows]
        new = size - len(page)
        usable = parsed if parsed is not None and parsed.rows == new else None
        return Span(last, size, page, new, usable)

    def _read_between(self, after: int, last: int) -> Page:
        with self.engine.connect() as conn:
            rows = conn.execute(self._page_between, {"after": after, "last": last}).all()
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def _insert_recorded(self, conn: Connection, start: int, span: Span) -> None:
        """Copy the page's new records into the figure table set-based (one statement on
        PostgreSQL; on SQLite one that parses the states into a temporary table and two
        that copy from it).

        Raises NotSetBased, leaving the transaction to be rolled back, when the copy did
        not take every one of them: a location ``dlp_locations`` does not hold yet, a
        state whose date or timestamp is not in the form the statement reads, or an
        unreadable state (the row-by-row path then names it).
        """
        if span.parsed is not None:
            self.pages_prefetched += 1
            bounds = {"after": start, "last": span.last}
            copied = [conn.execute(statement, bounds).rowcount for statement in self._copy_parsed]
            if copied != [span.new, span.new]:  # pragma: no cover - counted when parsed
                raise LedgerError(f"copied {copied} of {span.new} parsed records")
            return
        if not self._locations_synced:
            self._sync_locations(conn)
        try:
            with conn.begin_nested():
                params = {"after": start, "last": span.last, "topic": _RECORDED}
                for statement, checked in self._insert_new:
                    result = conn.execute(statement, params)
                    if checked and result.rowcount != span.new:
                        raise NotSetBased(f"{result.rowcount} of {span.new} new records")
        except DBAPIError as error:
            raise NotSetBased(str(error.orig)) from error

    def _sync_locations(self, conn: Connection) -> None:
        """Bring ``dlp_locations`` in line with the gazetteer (a few thousand rows)."""
        index = self.index()
        wanted = {}
        for pcode in index.by_pcode:
            found = self._ancestors(index, pcode)
            wanted[pcode] = (found["country"], found["adm1"], found["adm2"])
        have = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(select(ancestry)).all()}
        stale = [p for p, value in have.items() if wanted.get(p) != value]
        for chunk in (stale[i : i + 500] for i in range(0, len(stale), 500)):
            conn.execute(ancestry.delete().where(ancestry.c.pcode.in_(chunk)))
        for p in stale:
            del have[p]
        missing = [
            {"pcode": p, "country": c, "adm1": a1, "adm2": a2}
            for p, (c, a1, a2) in wanted.items()
            if p not in have
        ]
        if missing:
            conn.execute(insert(ancestry), missing)
            if not self.sqlite:
                # fresh statistics, or the planner may join the page's states with this
                # table by a nested loop over all of it, on every page
                conn.execute(text(f"ANALYZE {ancestry.name}"))
        self._locations_synced = True

    def rebuild(self, progress: Callable[[int], None] | None = None) -> CatchUp:
        """Drop every read model and replay the whole log.

        Each page commits with its tracking position, so an interrupted rebuild leaves a
        model that is exactly a prefix of the log: the next read (or rebuild) continues
        from there; nothing half-applied is ever visible.
        """
        metadata.drop_all(self.engine, checkfirst=True)
        ensure_tables(self.engine)
        return self.catch_up(progress)

    def checksum(self) -> str:
        """SHA-256 over every row of the figure table, details included, in record and
        version order (backend-neutral)."""
        digest = hashlib.sha256()
        with self.engine.connect() as conn:
            rows = conn.execution_options(yield_per=10_000).execute(
                select_versions().order_by(versions.c.record_id, versions.c.version)
            )
            for row in rows:
                digest.update(json.dumps([_plain(v) for v in row], ensure_ascii=False).encode())
                digest.update(b"\n")
        return digest.hexdigest()

    def _claim(self, conn: Connection, old: int, new: int) -> None:
        """Move the tracking position first, and only if it still holds ``old``.

        Done before the rows are written, so a second process applying the same page
        waits on this row (PostgreSQL) or on the write lock (SQLite), then finds the
        position moved and rolls back, instead of colliding with the first one's rows.
        """
        moved = conn.execute(
            update(positions)
            .where(and_(positions.c.view == VIEW_FIGURES, positions.c.position == old))
            .values(position=new)
        )
        if moved.rowcount != 1:
            raise ProjectionRace(f"tracking position moved from {old} by another process")

    def index(self, pcodes: Iterable[str] = ()) -> LocationIndex:
        if self._index is None or any(p not in self._index for p in pcodes):
            self.ledger._index = None
            self._index = self.ledger.locations()
            self._ancestry = {}
        return self._index

    def _snapshot_event(self, row: Any) -> Any:
        uid = row[1] if isinstance(row[1], UUID) else UUID(bytes=row[1])
        try:
            return self.ledger.mapper.to_domain_event(
                StoredEvent(uid, row[2], row[3], bytes(row[4]))
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UnreadableEvent(row[0], uid, row[2]) from None

    def _changes(self, page: Page) -> list[Change]:
        """The page's figure-record events, decoded."""
        out: list[Change] = []
        for position, originator_id, version, topic, state in page:
            action = _FIGURE_TOPICS.get(topic)
            if action is None:
                continue
            uid = originator_id if isinstance(originator_id, UUID) else UUID(bytes=originator_id)
            try:
                at, fields = self._decoded(uid, version, topic, state)
            except (ValueError, KeyError, TypeError, AttributeError):
                raise UnreadableEvent(position, uid, version) from None
            out.append(Change(position, uid.hex, version, action, at, fields))
        return out

    def _decoded(
        self, uid: UUID, version: int, topic: str, state: bytes
    ) -> tuple[int, dict[str, Any]]:
        """The event's recording time (µs) and fields, straight from its JSON when possible."""
        if self.decode != "mapper":
            fields = _decode_json(state)
            stamp = fields.pop("timestamp")
            if "class_version" not in fields and stamp.get("_type_") == "datetime_iso":
                return to_micros(datetime.fromisoformat(stamp["_data_"])), fields
            # an upcast or an unusual encoding: the mapper decides
        event = self.ledger.mapper.to_domain_event(StoredEvent(uid, version, topic, bytes(state)))
        fields = dict(vars(event))
        return to_micros(fields.pop("timestamp")), fields

    def _apply(self, conn: Connection, page: Page) -> None:
        taken = [self._snapshot_event(r) for r in page if r[3] == _SNAPSHOT]
        if taken:
            conn.execute(insert(snapshots), [_snapshot_row(e) for e in taken])
        changes = self._changes(page)
        if not changes:
            return
        index = self.index(
            [c.state["pcode"] for c in changes if c.action == "recorded"]
            + [
                c.state["changes"]["pcode"]
                for c in changes
                if c.action == "corrected" and "pcode" in c.state["changes"]
            ]
        )
        first_amendments: dict[str, int] = {}
        for c in changes:
            if c.version > 1:
                first_amendments.setdefault(c.record_id, c.version)
        latest = self._previous_rows(conn, first_amendments)
        new_rows: list[dict[str, Any]] = []
        superseded: list[dict[str, Any]] = []
        for change in changes:
            if change.action == "recorded":
                row = _recorded_row(change)
            else:
                previous = latest[change.record_id]
                superseded.append({"pos": previous["position"], "at": change.at})
                row = _amended_row(previous, change)
            row.update(self._ancestors(index, row["pcode"]))
            row["position"] = change.position
            latest[change.record_id] = row
            new_rows.append(row)
        self._insert(conn, new_rows)
        if superseded:
            self._supersede(conn, superseded)

    def _ancestors(self, index: LocationIndex, pcode: str) -> dict[str, str | None]:
        found = self._ancestry.get(pcode)
        if found is None:
            found = self._ancestry[pcode] = _ancestry(index, pcode)
        return found

    def _insert(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        # straight to the driver (SQLAlchemy's per-row parameter processing costs about as
        # much as the insert): COPY on PostgreSQL, executemany on SQLite with dates as ISO
        # text and booleans as 0/1, exactly what SQLAlchemy's Date and Boolean store there
        more = [tuple(row[n] for n in _DETAILS) for row in rows]
        if not self.sqlite:
            copy_rows(conn, versions.name, _COLUMNS, ([row[n] for n in _COLUMNS] for row in rows))
            copy_rows(conn, details.name, _DETAILS, more)
            return
        values = []
        for row in rows:
            value = [row[n] for n in _COLUMNS]
            value[_DAY] = value[_DAY].isoformat()
            value[_RETRACTED_COLUMN] = int(value[_RETRACTED_COLUMN])
            values.append(tuple(value))
        conn.exec_driver_sql(_insert_sql(versions.name, _COLUMNS), values)
        conn.exec_driver_sql(_insert_sql(details.name, _DETAILS), more)

    def _supersede(self, conn: Connection, superseded: list[dict[str, Any]]) -> None:
        mark = "?" if self.sqlite else "%s"
        conn.exec_driver_sql(
            f"UPDATE dlp_versions SET superseded_at = {mark} WHERE position = {mark}",
            [(s["at"], s["pos"]) for s in superseded],
        )

    def _previous_rows(
        self, conn: Connection, first_amendments: dict[str, int]
    ) -> dict[str, dict[str, Any]]:
        """For each record (hex id → the version of its first amendment in the page), the
        row of the version before, where the figure table already holds it.

        Found by its log position through the events table's own (originator id,
        version) index, so this works while a bulk load has the figure table's record
        index dropped."""
        out: dict[str, dict[str, Any]] = {}
        wanted = sorted(first_amendments.items())
        mark = "?" if self.sqlite else "%s"
        for chunk in (wanted[i : i + 300] for i in range(0, len(wanted), 300)):
            params: list[Any] = []
            for record_id, version in chunk:
                uid = UUID(record_id)
                params += [uid.bytes if self.sqlite else uid, version - 1]
            pairs = ", ".join(f"({mark}, {mark})" for _ in chunk)
            found = conn.exec_driver_sql(
                f"SELECT e.id FROM (VALUES {pairs}) AS wanted JOIN {EVENTS_TABLE} AS e "
                "ON e.originator_id = wanted.column1 AND e.originator_version = wanted.column2",
                tuple(params),
            ).scalars()
            rows = conn.execute(_BY_POSITIONS, {"positions": list(found)}).mappings()
            for row in rows:
                out[row["record_id"]] = dict(row)
        return out


def _json_decoder() -> Callable[[bytes], Any]:
    try:
        import msgspec
    except ImportError:  # pragma: no cover - msgspec is in the dev extra
        return json.loads
    fast = msgspec.json.Decoder().decode

    def decode(data: bytes) -> Any:
        try:
            return fast(data)
        except msgspec.MsgspecError:  # e.g. an integer beyond 64 bits: json decides
            return json.loads(data)

    return decode


_decode_json = _json_decoder()
_SOURCES: dict[tuple[tuple[str, Any], ...], str] = {}


def _source_json(source: dict[str, Any]) -> str:
    # the text exactly as the event stores it (compact, the event's key order), which is
    # what the set-based path copies out of the stored state
    return json.dumps(source, separators=(",", ":"), ensure_ascii=False)


def _source_text(source: dict[str, Any]) -> str:
    """The source as JSON text; sources repeat (one per report or round), so the text is
    kept for the last few thousand."""
    try:
        key = tuple(source.items())
        found = _SOURCES.get(key)
    except TypeError:  # an unhashable value (a list, say): no caching
        return _source_json(source)
    if found is None:
        if len(_SOURCES) > 4_096:
            _SOURCES.clear()
        found = _SOURCES[key] = _source_json(source)
    return found


_COLUMNS = [c.name for c in versions.columns]
_DETAILS = [c.name for c in details.columns]


def _insert_sql(table: str, columns: list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"


# The set-based copy of new records. Each keeps to what the row-by-row path computes:
# the record id as 32 hex digits, the event's timestamp as integer µs since the epoch
# (whole seconds by the database's date functions, the six fraction digits as written),
# the source as the JSON text the event holds. A state that does not fit (no timestamp
# in ISO form with a ±HH:MM offset, an upcast event, a date that is not a real date) is
# left out by the WHERE clause or fails a NOT NULL, and the page goes row by row.
_DETAIL_FIELDS = ("actor", "source", "origin", "cause", "note")
_AT = """(CAST(strftime('%s', substr(e.ts, 1, 19) || substr(e.ts, -6)) AS INTEGER) * 1000000
    + CASE WHEN substr(e.ts, 20, 1) = '.' THEN CAST(substr(e.ts, 21, 6) AS INTEGER) ELSE 0 END)"""


_NEW = (
    "id, record_id, version, kind, pcode, country, adm1, adm2, day, precision, individuals, "
    "households, at, actor, source, origin, cause, note"
)
_FIELDS = ("kind", "pcode", "date", "precision", "individuals", "households", *_DETAIL_FIELDS)


def _fill_sqlite(table: str) -> str:
    """Each state parsed once (SQLite), into ``table``, which the copies then read."""
    return f"""
INSERT INTO {table} ({_NEW})
WITH e AS MATERIALIZED (
    SELECT id, originator_id, originator_version,
           json_extract(CAST(state AS TEXT), '$.timestamp._type_') AS ts_type,
           json_extract(CAST(state AS TEXT), '$.timestamp._data_') AS ts,
           json_type(CAST(state AS TEXT), '$.class_version') AS class_version,
           {", ".join(f"json_extract(CAST(state AS TEXT), '$.{f}') AS {f}" for f in _FIELDS)}
    FROM {EVENTS_TABLE}
    WHERE id > :after AND id <= :last AND topic = :topic
)
SELECT e.id, lower(hex(e.originator_id)), e.originator_version, e.kind, e.pcode,
       l.country, l.adm1, l.adm2, e.date, e.precision, e.individuals, e.households, {_AT},
       e.actor, e.source, e.origin, e.cause, e.note
FROM e
JOIN dlp_locations AS l ON l.pcode = e.pcode
WHERE e.ts_type = 'datetime_iso' AND e.class_version IS NULL
  AND length(e.ts) IN (25, 32) AND substr(e.ts, -6, 1) IN ('+', '-')
  AND date(e.date) IS e.date
"""


def _copy_sqlite(table: str, *, ranged: bool) -> tuple[str, str]:
    """The figure rows and their details, from a table ``_fill_sqlite`` filled (holding
    only this page, or, ``ranged``, pages the statements pick by position)."""
    where = " WHERE id > :after AND id <= :last" if ranged else ""
    return (
        f"INSERT INTO dlp_versions ({', '.join(_COLUMNS)}) "
        "SELECT id, record_id, version, 'recorded', kind, pcode, country, adm1, adm2, day, "
        f"precision, individuals, households, 0, at, at, NULL FROM {table}{where}",
        f"INSERT INTO dlp_details ({', '.join(_DETAILS)}) "
        f"SELECT id, actor, NULL, NULL, '[]', source, origin, cause, note FROM {table}{where}",
    )


# SQLite in line: the states parsed into a per-connection temporary table that both copies
# then read; the statement that fills it is the one whose row count is checked
_INSERT_RECORDED_SQLITE = (
    (f"CREATE TEMP TABLE IF NOT EXISTS dlp_new ({_NEW})", False),
    ("DELETE FROM temp.dlp_new", False),
    (_fill_sqlite("temp.dlp_new"), True),
    *((sql, False) for sql in _copy_sqlite("temp.dlp_new", ranged=False)),
)
# PostgreSQL: one statement, each state parsed once; data-modifying CTEs insert the
# figure rows and their details from the same parsed set
_INSERT_RECORDED_PG = (
    (
        f"""
WITH n AS (
    SELECT e.id, replace(e.originator_id::text, '-', '') AS record_id, e.originator_version,
           r.kind, r.pcode, l.country, l.adm1, l.adm2, r."date"::date AS day, r."precision",
           r.individuals, r.households, t.at, r.actor, r.source::text AS source, r.origin,
           r.cause, r.note
    FROM {EVENTS_TABLE} AS e
    CROSS JOIN LATERAL json_to_record(convert_from(e.state, 'UTF8')::json) AS r(
        "timestamp" json, kind text, pcode text, "date" text, "precision" text,
        individuals bigint, households bigint, source json, origin text, cause text,
        note text, actor text, class_version integer)
    CROSS JOIN LATERAL (
        SELECT (extract(epoch FROM (r."timestamp" ->> '_data_')::timestamptz) * 1000000)::bigint
    ) AS t(at)
    JOIN dlp_locations AS l ON l.pcode = r.pcode
    WHERE e.id > :after AND e.id <= :last AND e.topic = :topic
      AND r.class_version IS NULL
      AND r."timestamp" ->> '_type_' = 'datetime_iso'
      AND r."timestamp" ->> '_data_' ~ '[+-][0-9][0-9]:[0-9][0-9]$'
), v AS (
    INSERT INTO dlp_versions ({", ".join(_COLUMNS)})
    SELECT id, record_id, originator_version, 'recorded', kind, pcode, country, adm1, adm2,
           day, "precision", individuals, households, false, at, at, NULL
    FROM n
)
INSERT INTO dlp_details ({", ".join(_DETAILS)})
SELECT id, actor, NULL, NULL, '[]', source, origin, cause, note FROM n
""",
        True,
    ),
)
_DAY = _COLUMNS.index("day")
_RETRACTED_COLUMN = _COLUMNS.index("retracted")


def _snapshot_row(event: Any) -> dict[str, Any]:
    return {
        "name": event.name,
        "as_of": date.fromisoformat(event.as_of),
        "known_at": event.known_at,
        "position": event.position,
        "location": event.location,
        "by_level": event.by,
        "actor": event.actor,
        "created_at": to_micros(event.timestamp),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | str) or value is None:
        return value
    return str(value)


def _ancestry(index: LocationIndex, pcode: str) -> dict[str, str | None]:
    chain = [pcode, *index.ancestors(pcode)]
    by_level = {index.get(p).level: p for p in chain}
    return {"country": chain[-1], "adm1": by_level.get(1), "adm2": by_level.get(2)}


def _recorded_row(change: Change) -> dict[str, Any]:
    state = change.state
    return {
        "record_id": change.record_id,
        "version": change.version,
        "action": "recorded",
        "kind": state["kind"],
        "pcode": state["pcode"],
        "day": date.fromisoformat(state["date"]),
        "precision": state["precision"],
        "individuals": state["individuals"],
        "households": state["households"],
        "retracted": False,
        "created_at": change.at,
        "recorded_at": change.at,
        "superseded_at": None,
        "actor": state["actor"],
        "reason": None,
        "citation": None,
        "changes": "[]",
        "source": _source_text(state["source"]),
        "origin": state["origin"],
        "cause": state["cause"],
        "note": state["note"],
    }


def _amended_row(previous: dict[str, Any], change: Change) -> dict[str, Any]:
    state = change.state
    row = dict(previous)
    row.update(
        version=change.version,
        recorded_at=change.at,
        superseded_at=None,
        actor=state["actor"],
        reason=state["reason"],
        citation=state["citation"],
    )
    if change.action == "retracted":
        row.update(action="retracted", retracted=True, changes="[]")
        return row
    changes = []
    for name, value in state["changes"].items():
        if name == "date":
            changes.append({"field": "date", "old": previous["day"].isoformat(), "new": value})
            row["day"] = date.fromisoformat(value)
        elif name == "precision":
            changes.append({"field": "precision", "old": previous["precision"], "new": value})
            row["precision"] = value
        else:
            changes.append({"field": name, "old": previous[name], "new": value})
            row[name] = value
    row.update(action="corrected", changes=json.dumps(changes, ensure_ascii=False))
    return row
