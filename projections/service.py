"""The read service: every question a user asks of a ledger, one function each.

``ReadService.open`` connects through the backend's own driver (no SQLAlchemy, no event
library, no write-side application), brings the read models up to date with the log, and
loads the locations from their read model. Each function then answers from the read
models alone, in one read-only transaction (every statement sees the same state), and
returns a typed, frozen result that the CLI renders and the HTTP API serialises
(``to_json``, the shapes the command contract fixes).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.backends import EVENTS_TABLE, Connection, Cursor
from ledger.dates import FigureDate, Precision, parse_day, parse_instant, utc_now
from ledger.errors import (
    InvalidInput,
    LedgerNotInitialised,
    RecordNotFound,
    SnapshotNotFound,
)
from ledger.ids import parse_record_id
from ledger.locations import Location, LocationIndex, level_number
from ledger.targets import database_url, safe_target
from projections.backends import ReadModels, models_for
from projections.catchup import Projection
from projections.facts import SqlFacts
from projections.figures import FigureRule
from projections.schema import (
    DETAILS,
    LOCATION_CHANGES,
    LOCATIONS,
    SNAPSHOTS,
    VERSIONS,
    from_micros,
    to_micros,
)
from projections.totals import Moment, Totals, TotalsReport, totals_of

if TYPE_CHECKING:  # each imported by the functions that return them, when they are called
    from ledger.integrity.checkpoint import Checkpoint
    from projections.explain import Explanation
    from projections.flows import Flows
    from projections.records import History, LocationHistory, Snapshot, SnapshotSummary
    from projections.timeline import Comparison, Revisions, Series, Side


def connect(target: str) -> tuple[ReadModels, Connection, str]:
    """The read models' backend, a connection to the ledger at ``target``, and its URL."""
    url = database_url(target)
    models = models_for(url)
    try:
        conn = models.connect(url)
    except LedgerNotInitialised:
        raise LedgerNotInitialised(safe_target(target)) from None
    try:
        with models.snapshot(conn) as cur:
            if not models.has_table(cur, EVENTS_TABLE):
                raise LedgerNotInitialised(safe_target(target))
    except BaseException:
        conn.close()
        raise
    return models, conn, url


def open_projection(target: str) -> Projection:
    """The read models of the ledger at ``target``, tables ensured, not caught up (rebuild)."""
    models, conn, url = connect(target)
    projection = Projection(models, conn, url)
    projection.ensure_tables()
    return projection


def moment(as_of: str | None = None, known_at: str | None = None) -> Moment:
    """``--as-of`` (default today) and ``--known-at`` (default now) as instants."""
    now = utc_now()
    return Moment(
        as_of=parse_day(as_of, what="--as-of") if as_of else now.date(),
        known_at=parse_instant(known_at) if known_at else now,
    )


class ReadService:
    """The read models of one ledger, caught up with its log when opened."""

    def __init__(
        self,
        models: ReadModels,
        conn: Connection,
        url: str,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.models = models
        self.conn = conn
        self.projection = Projection(models, conn, url)
        self.projection.ensure_tables()
        self.position = self.projection.catch_up(progress).position
        self.index = self._locations()

    @classmethod
    def open(cls, target: str, progress: Callable[[int], None] | None = None) -> ReadService:
        models, conn, url = connect(target)
        try:
            return cls(models, conn, url, progress)
        except BaseException:
            conn.close()
            raise

    def refresh(self) -> None:
        """Catch up with what was written since the service was opened (and read the
        locations again if anything was)."""
        done = self.projection.catch_up()
        self.position = done.position
        if done.applied:
            self.index = self._locations()

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _reading(self) -> Iterator[Cursor]:
        with self.models.snapshot(self.conn) as cur:
            yield cur

    def _rows(self, cur: Cursor, statement: str, params: Any = ()) -> list[Any]:
        cur.execute(self.models.sql(statement), params)
        return list(cur.fetchall())

    def _locations(self) -> LocationIndex:
        with self._reading() as cur:
            rows = self._rows(
                cur, f"SELECT pcode, name, level, parent, variants FROM {LOCATIONS.name}"
            )
        return LocationIndex(
            Location(pcode, name, int(level), parent, tuple(json.loads(variants)))
            for pcode, name, level, parent, variants in rows
        )

    # -- locations -------------------------------------------------------------------------

    def location(self, query: str) -> Location:
        return self.index.resolve(query).location

    def locations(self, query: str | None = None) -> list[Location]:
        return self.index.search(query)

    def location_history(self, query: str) -> LocationHistory:
        """What was done to a location, event by event."""
        from projections.records import LocationChange, LocationHistory

        place = self.location(query)
        with self._reading() as cur:
            rows = self._rows(
                cur,
                f"SELECT {', '.join(LOCATION_CHANGES.names)} FROM {LOCATION_CHANGES.name} "
                "WHERE pcode = ? ORDER BY position",
                (place.pcode,),
            )
        return LocationHistory(
            place,
            tuple(
                LocationChange(r[0], r[2], json.loads(r[3]), r[4], r[5], r[6], from_micros(r[7]))
                for r in rows
            ),
        )

    def countries(self, cur: Cursor, known_at: datetime) -> list[Location]:
        """Countries with any record version known at the instant (all of them if none)."""
        codes = [c.pcode for c in self.index.countries()]
        if not codes:
            return []
        source, params = self.models.batch([(c,) for c in codes], ("text",))
        found = self._rows(
            cur,
            f"SELECT p.c0 FROM {source} WHERE EXISTS (SELECT 1 FROM {VERSIONS.name} AS v "
            "WHERE v.country = p.c0 AND v.recorded_at <= ?)",
            [*params, to_micros(known_at)],
        )
        present = {r[0] for r in found}
        return [c for c in self.index.countries() if c.pcode in present] or self.index.countries()

    # -- figures ---------------------------------------------------------------------------

    def _rule(
        self, cur: Cursor, when: Moment, *, detail: bool = False, dimension: str | None = None
    ) -> FigureRule:
        facts = SqlFacts(self.models, cur, to_micros(when.known_at))
        return FigureRule(facts, self.index, when.as_of, detail=detail, dimension=dimension)

    def totals(
        self,
        when: Moment,
        location: str | None = None,
        by: str | None = None,
        breakdown: str | None = None,
    ) -> TotalsReport:
        """One location's totals (or every country's), with ``by`` broken down by level and
        with ``breakdown`` by a dimension (sex, age, cause, origin)."""
        level = level_number(by) if by else None
        dimension = None if breakdown is None else _dimension(breakdown)
        chosen = self.location(location) if location is not None else None
        if level == 0 and chosen is None:
            level = None  # every country is listed anyway: one line each
        with self._reading() as cur:
            places = [chosen] if chosen else self.countries(cur, when.known_at)
            rule = self._rule(cur, when, dimension=dimension)
            return TotalsReport(totals_of(rule, when, self.position, places, level))

    def single(self, report: TotalsReport, what: str) -> Totals:
        if len(report.countries) != 1:
            names = ", ".join(t.location.pcode for t in report.countries)
            raise InvalidInput(
                f"{what} needs one location; the ledger has {names}: pass --location"
            )
        return report.countries[0]

    def explain(self, when: Moment, location: str) -> Explanation:
        from projections.explain import Explanation, derivation

        place = self.location(location)
        with self._reading() as cur:
            facts = SqlFacts(self.models, cur, to_micros(when.known_at))
            rule = FigureRule(facts, self.index, when.as_of, detail=True)
            tree = derivation(rule.figure(place.pcode), self.index, facts)
            return Explanation(
                when.as_of, when.known_at, self.position, self._checkpoint(cur), tree
            )

    def series(
        self,
        start: str,
        end: str,
        every: str = "month",
        known_at: str | None = None,
        location: str | None = None,
        by: str | None = None,
    ) -> Series:
        from projections.timeline import Series, period_ends

        instant = parse_instant(known_at) if known_at else utc_now()
        first = parse_day(start, what="--from")
        last = parse_day(end, what="--to")
        points = tuple(
            self.single(self.totals(Moment(day, instant), location, by), "series")
            for day in period_ends(first.replace(day=1), last, every)
        )
        return Series(every, instant, points)

    def flows(
        self,
        start: str,
        end: str,
        known_at: str | None = None,
        location: str | None = None,
        by: str | None = None,
    ) -> Flows:
        """New displacements, registrations and returns dated in a period (as known at an
        instant), with their sources; ``by``: summed per location at that level."""
        from projections.flows import flows_of, flows_query, period_start

        instant = parse_instant(known_at) if known_at else utc_now()
        first = period_start(FigureDate.parse(start, what="--from"))
        last = parse_day(end, what="--to")
        if first > last:
            raise InvalidInput(f"--from {start} is after --to {end}")
        place = self.location(location) if location is not None else None
        level = level_number(by) if by else None
        if level is not None and place is not None and level <= place.level:
            raise InvalidInput(f"--by {by} is not below {place.name} ({place.level_name})")
        k = to_micros(instant)
        params: list[Any] = [k, k, first.toordinal(), last.toordinal()]
        if place is not None:
            params.append(place.pcode)
        with self._reading() as cur:
            rows = self._rows(cur, flows_query(place), params)
        return flows_of(rows, self.index, first, last, instant, place, level)

    def compare(
        self, a: str, b: str, location: str | None = None, by: str | None = None
    ) -> Comparison:
        """Two dates (computed now, as known now) or snapshot names (as frozen). A date side
        takes a snapshot side's location and breakdown, so that the rows line up."""
        from projections.timeline import Comparison, Side

        kept = {side: self.snapshot(side) for side in (a, b) if _as_date(side) is None}
        for name, snapshot in kept.items():
            if by is not None and snapshot.summary.by != by:
                raise InvalidInput(
                    f"snapshot {name!r} was kept with --by {snapshot.summary.by or '(none)'}, "
                    f"not --by {by}"
                )
            by = snapshot.summary.by
            location = location or snapshot.summary.location

        def side(text: str) -> Side:
            day = _as_date(text)
            if day is None:
                return self._snapshot_side(kept[text], location)
            return Side(self.single(self.totals(Moment(day, utc_now()), location, by), "compare"))

        return Comparison(side(a), side(b))

    def _snapshot_side(self, snapshot: Snapshot, location: str | None) -> Side:
        from projections.timeline import Side

        result = snapshot.result
        countries = result.get("countries", [result])
        if location is not None:
            pcode = self.location(location).pcode
            countries = [c for c in countries if c["location"]["pcode"] == pcode]
        name = snapshot.summary.name
        if len(countries) != 1:
            raise InvalidInput(
                f"snapshot {name!r} does not hold exactly one matching location; "
                "name one (location)"
            )
        return Side(Totals.from_json(countries[0]), snapshot=name, kept=countries[0])

    def revisions(self, since: str, until: str | None = None) -> Revisions:
        """What was recorded in (since, until], and which figures it changed."""
        from projections.revisions import revisions

        return revisions(self, since, until)

    # -- records ---------------------------------------------------------------------------

    def history(self, record_id: str) -> History:
        from projections.records import History, Version

        rid = parse_record_id(record_id)
        columns = [f"v.{c}" for c in VERSIONS.names] + [f"d.{c}" for c in DETAILS.names[1:]]
        names = [*VERSIONS.names, *DETAILS.names[1:]]
        with self._reading() as cur:
            rows = self._rows(
                cur,
                f"SELECT {', '.join(columns)} FROM {VERSIONS.name} AS v JOIN {DETAILS.name} AS d "
                "ON d.position = v.position WHERE v.record_id = ? ORDER BY v.version",
                (rid.hex,),
            )
        if not rows:
            raise RecordNotFound(rid)
        versions = []
        for row in rows:
            r = dict(zip(names, row, strict=True))
            versions.append(
                Version(
                    record_id=str(rid), version=r["version"], action=r["action"],
                    kind=r["kind"], pcode=r["pcode"],
                    date=str(FigureDate(date.fromordinal(r["day"]), Precision(r["precision"]))),
                    individuals=r["individuals"], households=r["households"],
                    source=json.loads(r["source"]), origin=r["origin"], cause=r["cause"],
                    note=r["note"], retracted=bool(r["retracted"]),
                    recorded_at=from_micros(r["recorded_at"]), actor=r["actor"],
                    reason=r["reason"], citation=r["citation"],
                    changes=tuple(json.loads(r["changes"])),
                    current_until=from_micros(r["superseded_at"]) if r["superseded_at"] else None,
                )
            )  # fmt: skip
        return History(str(rid), tuple(versions), self.index)

    def export_rows(self) -> Iterator[list[str]]:
        """Every current record (not retracted), in the order they were first recorded, as
        the export's cells (``projections.records.EXPORT_COLUMNS``)."""
        from projections.records import export_row

        columns_out = self.export_columns
        fields = ["record_id", "version", "kind", "pcode", "day", "precision",
                  "individuals", "households", "origin", "cause", "breakdowns",
                  "source", "note", "actor", "import_key"]  # fmt: skip
        columns = ", ".join(f"{'v' if c in VERSIONS.names else 'd'}.{c}" for c in fields)
        with self.models.streaming(self.conn) as cur:
            cur.execute(
                self.models.sql(
                    f"SELECT {columns} FROM {VERSIONS.name} AS v JOIN {DETAILS.name} AS d "
                    "ON d.position = v.position "
                    "WHERE v.superseded_at IS NULL AND v.retracted = 0 "
                    f"ORDER BY (SELECT w.position FROM {VERSIONS.name} AS w "
                    "WHERE w.record_id = v.record_id AND w.version = 1)"
                )
            )
            while rows := cur.fetchmany(1000):
                for row in rows:
                    r = dict(zip(fields, row, strict=True))
                    day = FigureDate(date.fromordinal(r.pop("day")), Precision(r.pop("precision")))
                    r["date"] = str(day)
                    r["record_id"] = str(UUID(r["record_id"]))
                    r["source"] = json.loads(r["source"])
                    if r["breakdowns"] is not None:
                        r["breakdowns"] = json.loads(r["breakdowns"])
                    yield export_row(r, self.index.get(r.pop("pcode")), self.index, columns_out)

    @functools.cached_property
    def export_columns(self) -> tuple[tuple[str, str], ...]:
        """The export's columns: ``projections.records``'s, and a column for each age band
        a record's breakdowns hold."""
        from ledger.breakdowns import band_bounds
        from projections.records import export_columns

        with self._reading() as cur:
            rows = self._rows(
                cur,
                f"SELECT DISTINCT e.key FROM {VERSIONS.name} AS v {self.models.parts_join('age')}",
            )
        return export_columns(sorted((r[0] for r in rows), key=band_bounds))

    # -- snapshots and checkpoints ---------------------------------------------------------

    def snapshots(self) -> list[SnapshotSummary]:
        with self._reading() as cur:
            rows = self._rows(
                cur, f"SELECT {', '.join(SNAPSHOTS.names[:-1])} FROM {SNAPSHOTS.name} "
                "ORDER BY created_at"
            )  # fmt: skip
        return [_summary(row) for row in rows]

    def snapshot(self, name: str) -> Snapshot:
        from projections.records import Snapshot

        with self._reading() as cur:
            rows = self._rows(
                cur,
                f"SELECT {', '.join(SNAPSHOTS.names)} FROM {SNAPSHOTS.name} WHERE name = ?",
                (name,),
            )
        if not rows:
            raise SnapshotNotFound(name)
        return Snapshot(_summary(rows[0][:-1]), json.loads(rows[0][-1]))

    def checkpoint(self) -> Checkpoint:
        """The hash-chain checkpoint of the log position these answers are computed at."""
        with self._reading() as cur:
            return self._checkpoint(cur)

    def _checkpoint(self, cur: Cursor) -> Checkpoint:
        from ledger.chain import latest_link

        return latest_link(self.models, cur, self.position)


def _dimension(text: str) -> str:
    from ledger.breakdowns import dimension_of

    try:
        return dimension_of(text)
    except ValueError as error:
        raise InvalidInput(f"--breakdown: {error}") from None


def _summary(row: Any) -> SnapshotSummary:
    from projections.records import SnapshotSummary

    name, as_of, known_at, position, location, by, actor, created_at = row
    return SnapshotSummary(
        name, as_of, known_at, int(position), location, by, actor, from_micros(created_at)
    )


def _as_date(side: str) -> date | None:
    try:
        return parse_day(side, what="date")
    except InvalidInput:
        return None
