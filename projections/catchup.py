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
from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.schema import CreateIndex, DropIndex

from ledger.application import Ledger
from ledger.errors import LedgerError
from ledger.locations import LocationIndex
from ledger.records import FigureRecord
from ledger.snapshots import NamedSnapshot
from ledger.storage import EVENTS_TABLE
from projections.schema import (
    VIEW_FIGURES,
    metadata,
    positions,
    snapshots,
    to_micros,
    versions,
)

PAGE_SIZE = 10_000
_DDL_LOCK = 0x646C6564  # "dled": serialises read-model DDL across processes (PostgreSQL)
BULK_BACKLOG = 50_000  # SQLite: from this many events behind, load first and index after
SQLITE_CACHE_KIB = 256 * 1024
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


@dataclass(frozen=True)
class CatchUp:
    applied: int
    position: int


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


_SEEDED = select(positions.c.position).where(positions.c.view == VIEW_FIGURES)


def ensure_tables(engine: Engine) -> None:
    """Create the read-model tables and the tracking row (position 0) if missing.

    Two processes starting at once would both find a table missing and both create it;
    on PostgreSQL a transaction-scoped advisory lock makes them take turns, on SQLite
    the loser's "already exists" is retried (and then finds the table).
    """
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK})
                metadata.create_all(conn, checkfirst=True)
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


def read_position(conn: Connection, view: str = VIEW_FIGURES) -> int:
    value = conn.execute(select(positions.c.position).where(positions.c.view == view)).scalar()
    return int(value) if value is not None else 0


def log_head(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


class FigureProjection:
    """The bitemporal figure table and how it follows the log.

    Pages are read with one plain SELECT on the events table, and figure-record states
    are decoded straight from their JSON (``decode="json"``, used when the application
    stores plain JSON). ``decode="mapper"`` is the straightforward path (the library's
    notification reader and mapper, full domain-event objects), kept as the reference
    that tests/test_speed_equivalence.py compares the fast path with.
    """

    def __init__(self, ledger: Ledger, *, decode: str = "json") -> None:
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

    def position(self) -> int:
        with self.engine.connect() as conn:
            return read_position(conn)

    def catch_up(self, progress: Callable[[int], None] | None = None) -> CatchUp:
        """Apply every notification after the tracking position; returns what was done.

        On SQLite, a large backlog (a rebuild, a first read after a bulk import) is
        loaded without the figure table's secondary indexes, which are built once at the
        end: about a third faster than maintaining five B-trees row by row. An interrupted
        load leaves them missing; every catch-up first creates any index that is missing,
        so they are back before the next read (indexes change speed, never results).
        """
        if not self.sqlite:
            return self._catch_up(progress)
        self._create_indexes()
        bulk = log_head(self.ledger) - self.position() >= BULK_BACKLOG
        if bulk:
            with self.engine.begin() as conn:
                for index in versions.indexes:
                    conn.execute(DropIndex(index, if_exists=True))
        try:
            return self._catch_up(progress)
        finally:
            if bulk:
                self._create_indexes()

    def _create_indexes(self) -> None:
        with self.engine.begin() as conn:
            if self.sqlite:
                conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            for index in versions.indexes:
                conn.execute(CreateIndex(index, if_not_exists=True))

    def _catch_up(self, progress: Callable[[int], None] | None) -> CatchUp:
        applied = 0
        while True:
            start = self.position()
            page = self._read(start)
            if not page:
                return CatchUp(applied, start)
            try:
                with self.engine.begin() as conn:
                    if self.sqlite:
                        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
                    self._claim(conn, start, page[-1][0])
                    self._apply(conn, page)
            except ProjectionRace:
                continue
            applied += len(page)
            if progress is not None:
                progress(len(page))

    def _read(self, after: int) -> Page:
        """The next page of the log."""
        if self.decode == "mapper":
            notes = self.ledger.recorder.select_notifications(
                after + 1, PAGE_SIZE, inclusive_of_start=True
            )
            return [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in notes]
        with self.engine.connect() as conn:
            rows = conn.execute(self._page, {"after": after, "size": PAGE_SIZE}).all()
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

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
        """SHA-256 over every row of the figure table in key order (backend-neutral)."""
        digest = hashlib.sha256()
        columns = list(versions.columns)
        with self.engine.connect() as conn:
            rows = conn.execution_options(yield_per=10_000).execute(
                select(*columns).order_by(versions.c.record_id, versions.c.version)
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
        if self.decode == "json":
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
        latest = self._current_rows(conn, {c.record_id for c in changes if c.version > 1})
        new_rows: list[dict[str, Any]] = []
        superseded: list[dict[str, Any]] = []
        for change in changes:
            if change.action == "recorded":
                row = _recorded_row(change)
            else:
                previous = latest[change.record_id]
                superseded.append(
                    {"rid": change.record_id, "ver": previous["version"], "at": change.at}
                )
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
        if not self.sqlite:
            conn.execute(insert(versions), rows)
            return
        # SQLite: straight to the driver (SQLAlchemy's per-row parameter processing costs
        # about as much as the insert); dates as ISO text and booleans as 0/1, exactly
        # what SQLAlchemy's Date and Boolean types store on SQLite
        values = []
        for row in rows:
            value = [row[n] for n in _COLUMNS]
            value[_DAY] = value[_DAY].isoformat()
            value[_RETRACTED_COLUMN] = int(value[_RETRACTED_COLUMN])
            values.append(tuple(value))
        conn.exec_driver_sql(_SQLITE_INSERT, values)

    def _supersede(self, conn: Connection, superseded: list[dict[str, Any]]) -> None:
        if self.sqlite:
            conn.exec_driver_sql(
                "UPDATE dlp_versions SET superseded_at = ? WHERE record_id = ? AND version = ?",
                [(s["at"], s["rid"], s["ver"]) for s in superseded],
            )
            return
        conn.execute(
            update(versions)
            .where(
                and_(
                    versions.c.record_id == bindparam("rid"),
                    versions.c.version == bindparam("ver"),
                )
            )
            .values(superseded_at=bindparam("at")),
            superseded,
        )

    @staticmethod
    def _current_rows(conn: Connection, record_ids: set[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        ids = sorted(record_ids)
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            query = select(versions).where(
                and_(versions.c.record_id.in_(chunk), versions.c.superseded_at.is_(None))
            )
            for row in conn.execute(query).mappings():
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


def _source_text(source: dict[str, Any]) -> str:
    """The source as sorted JSON text; sources repeat (one per report or round), so the
    text is kept for the last few thousand."""
    try:
        key = tuple(source.items())
        found = _SOURCES.get(key)
    except TypeError:  # an unhashable value (a list, say): no caching
        return json.dumps(source, sort_keys=True, ensure_ascii=False)
    if found is None:
        if len(_SOURCES) > 4_096:
            _SOURCES.clear()
        found = _SOURCES[key] = json.dumps(source, sort_keys=True, ensure_ascii=False)
    return found


_COLUMNS = [c.name for c in versions.columns]
_DAY = _COLUMNS.index("day")
_RETRACTED_COLUMN = _COLUMNS.index("retracted")
_SQLITE_INSERT = (
    f"INSERT INTO dlp_versions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


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
