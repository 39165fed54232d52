"""Feeding the read models from the event log, exactly once.

Each page of the log is applied in one transaction together with the new tracking
position, and the position moves only if it still holds the value this process read (a
conditional UPDATE, made first, so a second process applying the same page waits on it and
then rolls back): two processes catching up at once cannot both apply a page. A crash
anywhere leaves the read models an exact prefix of the log.

A page's new records (nearly all of a log) are copied by the backend's set-based SQL; the
rest of the page goes through the ``Projector``. A page the set-based copy cannot take
whole (a state in an unusual form, a location the table lacks) is applied by the
``Projector`` alone, which names an event it cannot read.

A large backlog (a rebuild, the first read after a bulk import) is loaded without the
figure table's secondary indexes, built once at the end: sorting once is several times
cheaper than maintaining six B-trees row by row. An interrupted load leaves them missing;
every catch-up first creates any index that is missing (indexes change speed, never
results).

Every page is checked against the log's hash chain in the transaction that applies it
(``ledger.integrity.replay``): a catch-up from position 0 (a rebuild) checks the whole
chain as it replays, a later one each new event against its link, and a page with an event
the chain does not vouch for is refused, naming the event, with nothing of it applied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.backends import EVENTS_TABLE, Connection, Cursor
from ledger.integrity.replay import ReplayCheck
from projections.backends import RECORDED_TOPIC, NotSetBased, ReadModels
from projections.schema import (
    DETAILS,
    EPOCH_ORDINAL,
    MICROS_PER_DAY,
    POSITIONS,
    REVIEW_INDEXES,
    SCHEMA_VERSION,
    TABLES,
    VERSION_INDEXES,
    VERSIONS,
    VIEW_FIGURES,
    VIEW_LEAD,
    VIEW_SCHEMA,
)

PAGE_SIZE = 10_000
BULK_BACKLOG = 50_000  # from this many events behind, load first and index after

if TYPE_CHECKING:
    from projections.projector import Event

_PAGE_END = (
    f"SELECT count(*), max(id) FROM (SELECT id FROM {EVENTS_TABLE} "
    "WHERE id > ? ORDER BY id LIMIT ?) AS page"
)
_PAGE_OTHERS = (
    f"SELECT id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
    "WHERE id > ? AND id <= ? AND topic <> ? ORDER BY id"
)
_PAGE_ALL = (
    f"SELECT id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
    "WHERE id > ? AND id <= ? ORDER BY id"
)
_LEAD = (
    f"SELECT max(day - (recorded_at / {MICROS_PER_DAY} + {EPOCH_ORDINAL})) FROM {VERSIONS.name} "
    "WHERE position > ? AND position <= ?"
)


class ProjectionRace(Exception):
    """Another process moved the tracking position first; the page was rolled back."""


@dataclass(frozen=True)
class CatchUp:
    applied: int
    position: int


def read_position(cur: Cursor, models: ReadModels, view: str = VIEW_FIGURES) -> int | None:
    cur.execute(models.sql(f"SELECT position FROM {POSITIONS.name} WHERE view = ?"), (view,))
    row = cur.fetchone()
    return None if row is None else int(row[0])


class Projection:
    """The read models of one ledger, and how they follow its log."""

    def __init__(self, models: ReadModels, conn: Connection, url: str) -> None:
        self.models = models
        self.conn = conn
        self.url = url
        self.chain = ReplayCheck(models)

    def ensure_tables(self) -> None:
        """Create the read-model tables and their tracking rows if missing. Tables in
        another layout (no schema row, another version in it, a table missing) are dropped
        first: read models hold nothing the log does not, and the next catch-up refills them."""
        m = self.models
        with m.snapshot(self.conn) as cur:
            if self._layout_current(cur):
                return
        with m.transaction(self.conn) as cur:
            m.lock_ddl(cur)
            if not self._layout_current(cur):
                m.drop_tables(cur)
                m.create_tables(cur)
                for view, value in ((VIEW_SCHEMA, SCHEMA_VERSION), (VIEW_FIGURES, 0)):
                    cur.execute(
                        m.sql(f"INSERT INTO {POSITIONS.name} (view, position) VALUES (?, ?)"),
                        (view, value),
                    )
                for index in (*VERSION_INDEXES, *REVIEW_INDEXES):
                    m.create_index(cur, index)

    def _layout_current(self, cur: Cursor) -> bool:
        m = self.models
        if not all(m.has_table(cur, t.name) for t in TABLES):
            return False
        return read_position(cur, m, VIEW_SCHEMA) == SCHEMA_VERSION

    def position(self) -> int:
        with self.models.snapshot(self.conn) as cur:
            return read_position(cur, self.models) or 0

    def head(self) -> int:
        with self.models.snapshot(self.conn) as cur:
            return self.models.max_event_id(cur)

    def catch_up(self, progress: Callable[[int], None] | None = None) -> CatchUp:
        """Apply every event after the tracking position; returns what was done."""
        self._create_indexes()
        start = self.position()
        if self.head() == start:
            return CatchUp(0, start)
        bulk = self.head() - start >= BULK_BACKLOG
        if bulk:
            with self.models.transaction(self.conn) as cur:
                self.models.lock_ddl(cur)
                for index in VERSION_INDEXES:
                    self.models.drop_index(cur, index)
        try:
            prefetch = None
            if bulk:
                self.chain.follow(lambda: self.models.connect(self.url), start)
                self._locations_ahead(start)
                prefetch = self.models.prefetch(self.url, start, PAGE_SIZE)
            if prefetch is None:
                return self._catch_up(progress, None)
            prefetch.attach(self.conn)
            try:
                return self._catch_up(progress, prefetch)
            finally:
                prefetch.close()
                prefetch.detach(self.conn)
        finally:
            self.chain.stop()
            if bulk:
                self._create_indexes()
                with self.models.transaction(self.conn) as cur:
                    self.models.after_bulk_load(cur)

    def _locations_ahead(self, start: int) -> None:
        """Apply every gazetteer event of the backlog before the pages that hold them, so
        that a prefetch parsing pages ahead finds every location their records name.
        Applying a location's entry is idempotent (each event gives it whole) and the
        tracking position does not move: each page applies its own again, in order."""
        from projections.projector import LOCATION_TOPICS, Projector

        topics = sorted(LOCATION_TOPICS)
        marks = ", ".join("?" for _ in topics)
        with self.models.transaction(self.conn) as cur:
            cur.execute(
                self.models.sql(
                    f"SELECT id, originator_id, originator_version, topic, state "
                    f"FROM {EVENTS_TABLE} WHERE id > ? AND topic IN ({marks}) ORDER BY id"
                ),
                (start, *topics),
            )
            events: list[Event] = list(cur.fetchall())
            self.chain.vouch(cur, events)
            Projector(self.models, cur).apply_locations(events, history=False)

    def _create_indexes(self) -> None:
        m = self.models
        with m.snapshot(self.conn) as cur:
            if m.present_indexes(cur) == {index.name for index in VERSION_INDEXES}:
                return
        with m.transaction(self.conn) as cur:
            m.lock_ddl(cur)
            m.before_index_build(cur)
            for index in VERSION_INDEXES:
                m.create_index(cur, index)

    def _catch_up(self, progress: Callable[[int], None] | None, prefetch: Any) -> CatchUp:
        applied = 0
        while True:
            start = self.position()
            parsed = prefetch.take(start) if prefetch is not None else None
            with self.models.snapshot(self.conn) as cur:
                if parsed is not None:
                    size, last = parsed.size, parsed.last
                else:
                    cur.execute(self.models.sql(_PAGE_END), (start, PAGE_SIZE))
                    size, last = cur.fetchone()
                if not size:
                    return CatchUp(applied, start)
                cur.execute(self.models.sql(_PAGE_OTHERS), (start, last, RECORDED_TOPIC))
                others: list[Event] = list(cur.fetchall())
            new = size - len(others)
            usable = parsed is not None and parsed.rows == new
            if parsed is not None and not usable:
                prefetch.close()  # out of step with the log as this connection reads it
            try:
                self._apply_page(start, last, others, new, usable)
            except ProjectionRace:
                continue
            except NotSetBased:
                if prefetch is not None:
                    prefetch.close()
                with self.models.snapshot(self.conn) as cur:
                    cur.execute(self.models.sql(_PAGE_ALL), (start, last))
                    everything: list[Event] = list(cur.fetchall())
                try:
                    self._apply_page(start, last, everything, 0, False)
                except ProjectionRace:
                    continue
            if prefetch is not None:
                prefetch.applied(last)
            applied += size
            if progress is not None:
                progress(size)

    def _apply_page(
        self, start: int, last: int, events: list[Event], new: int, parsed: bool
    ) -> None:
        """One page and the tracking position that follows it, in one transaction."""
        from projections.projector import Projector

        m = self.models
        with m.transaction(self.conn) as cur:
            m.before_page(cur)
            self._claim(cur, start, last)
            self.chain.page(cur, start, last)
            projector = Projector(m, cur)
            projector.apply_locations(events)
            if new:
                taken = m.copy_recorded(cur, start, last, parsed=parsed)
                if taken != new:
                    raise NotSetBased(f"{taken} of {new} new records")
            projector.apply_snapshots(events)
            projector.apply_figures(events)
            projector.apply_reviews(events)
            projector.apply_sizes(events)
            self._raise_lead(cur, start, last)

    def _claim(self, cur: Cursor, old: int, new: int) -> None:
        cur.execute(
            self.models.sql(
                f"UPDATE {POSITIONS.name} SET position = ? WHERE view = ? AND position = ?"
            ),
            (new, VIEW_FIGURES, old),
        )
        if cur.rowcount != 1:
            raise ProjectionRace(f"tracking position moved from {old} by another process")

    def _raise_lead(self, cur: Cursor, start: int, last: int) -> None:
        """Keep the ``lead_days`` bound (projections.schema.VIEW_LEAD) over the rows just
        written; it only grows, and a rebuild recomputes it from nothing."""
        cur.execute(self.models.sql(_LEAD), (start, last))
        lead = cur.fetchone()[0]
        if lead is None:
            return
        current = read_position(cur, self.models, VIEW_LEAD)
        if current is None:
            cur.execute(
                self.models.sql(f"INSERT INTO {POSITIONS.name} (view, position) VALUES (?, ?)"),
                (VIEW_LEAD, int(lead)),
            )
        elif current < int(lead):
            cur.execute(
                self.models.sql(f"UPDATE {POSITIONS.name} SET position = ? WHERE view = ?"),
                (int(lead), VIEW_LEAD),
            )

    def rebuild(self, progress: Callable[[int], None] | None = None) -> CatchUp:
        """Drop every read model and replay the whole log. Each page commits with its
        tracking position, so an interrupted rebuild leaves a prefix of the log, and the
        next read (or rebuild) continues from there."""
        with self.models.transaction(self.conn) as cur:
            self.models.lock_ddl(cur)
            self.models.drop_tables(cur)
        self.ensure_tables()
        return self.catch_up(progress)

    def checksum(self) -> str:
        """SHA-256 over every row of the figure table, details included, in record and
        version order (the same on every backend)."""
        digest = hashlib.sha256()
        columns = [f"v.{c}" for c in VERSIONS.names] + [f"d.{c}" for c in DETAILS.names[1:]]
        with self.models.streaming(self.conn) as cur:
            cur.execute(
                f"SELECT {', '.join(columns)} FROM {VERSIONS.name} AS v "
                f"JOIN {DETAILS.name} AS d ON d.position = v.position "
                "ORDER BY v.record_id, v.version"
            )
            while rows := cur.fetchmany(10_000):
                for row in rows:
                    digest.update(json.dumps(list(row), ensure_ascii=False).encode())
                    digest.update(b"\n")
        return digest.hexdigest()
