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

from ledger.backends import EVENTS_TABLE, Connection, Cursor
from ledger.dates import parse_day, parse_instant, utc_now
from ledger.errors import (
    InvalidInput,
    LedgerNotInitialised,
)
from ledger.locations import Location, LocationIndex, level_number
from ledger.targets import database_url, safe_target
from projections.backends import ReadModels, models_for
from projections.catchup import Projection
from projections.facts import SqlFacts
from projections.figures import FigureRule
from projections.schema import (
    LOCATIONS,
    VERSIONS,
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
        from projections.lookups import location_history

        return location_history(self, query)

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
        self,
        cur: Cursor,
        when: Moment,
        *,
        detail: bool = False,
        dimension: str | None = None,
        approved_only: bool = False,
    ) -> FigureRule:
        facts = SqlFacts(self.models, cur, to_micros(when.known_at), approved_only=approved_only)
        return FigureRule(facts, self.index, when.as_of, detail=detail, dimension=dimension)

    def totals(
        self,
        when: Moment,
        location: str | None = None,
        by: str | None = None,
        breakdown: str | None = None,
        approved_only: bool = False,
    ) -> TotalsReport:
        """One location's totals (or every country's), with ``by`` broken down by level and
        with ``breakdown`` by a dimension (sex, age, cause, origin); ``approved_only``: each
        record at its latest approved version."""
        level = level_number(by) if by else None
        dimension = None if breakdown is None else _dimension(breakdown)
        chosen = self.location(location) if location is not None else None
        if level == 0 and chosen is None:
            level = None  # every country is listed anyway: one line each
        with self._reading() as cur:
            places = [chosen] if chosen else self.countries(cur, when.known_at)
            rule = self._rule(cur, when, dimension=dimension, approved_only=approved_only)
            found = totals_of(rule, when, self.position, places, level)
            if approved_only:
                found = tuple(t.noted(self._waiting(cur, when, t.location.pcode)) for t in found)
            return TotalsReport(found)

    def _waiting(self, cur: Cursor, when: Moment, pcode: str) -> str:
        """A note of the record versions in ``pcode``'s country that ``--approved-only``
        leaves out (or counts at an earlier version) until they are reviewed."""
        country = self.index.ancestors(pcode)[-1:] or [pcode]
        waiting = SqlFacts(self.models, cur, to_micros(when.known_at)).waiting(country)
        return (
            f"approved versions only: {waiting} record version(s) in {country[0]} wait for "
            "review (counted at their last approved version, or not at all)"
        )

    def single(self, report: TotalsReport, what: str) -> Totals:
        if len(report.countries) != 1:
            names = ", ".join(t.location.pcode for t in report.countries)
            raise InvalidInput(
                f"{what} needs one location; the ledger has {names}: pass --location"
            )
        return report.countries[0]

    def explain(self, when: Moment, location: str, *, approved_only: bool = False) -> Explanation:
        from projections.explain import Explanation, derivation

        place = self.location(location)
        with self._reading() as cur:
            from projections.shown import ShownFacts

            facts = ShownFacts(
                self.models, cur, to_micros(when.known_at), approved_only=approved_only
            )
            facts.url = self.projection.url
            rule = FigureRule(facts, self.index, when.as_of, detail=True)
            tree = derivation(rule.figure(place.pcode), self.index, facts)
            if approved_only:
                tree = tree.noted(self._waiting(cur, when, place.pcode))
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
        approved_only: bool = False,
    ) -> Series:
        from projections.timeline import Series, period_ends

        instant = parse_instant(known_at) if known_at else utc_now()
        first = parse_day(start, what="--from")
        last = parse_day(end, what="--to")
        points = tuple(
            self.single(
                self.totals(Moment(day, instant), location, by, approved_only=approved_only),
                "series",
            )
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
        from projections.flows import flows

        return flows(self, start, end, known_at, location, by)

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
        """Every version of a record, with its reviews (``projections.lookups``)."""
        from projections.lookups import history

        return history(self, record_id)

    def export_rows(self) -> Iterator[list[str]]:
        """Every current record, as the export's cells (``projections.lookups``)."""
        from projections.lookups import export_rows

        return export_rows(self)

    @functools.cached_property
    def export_columns(self) -> tuple[tuple[str, str], ...]:
        from projections.lookups import export_columns

        return export_columns(self)

    def household_sizes(self, country: str | None = None) -> list[dict[str, Any]]:
        """Every household size set (for one country), in the order they were set."""
        from projections.lookups import household_sizes

        return household_sizes(self, country)

    def converted_records(self, country: str) -> list[str]:
        """The current households-only records of a country (what a new size converts)."""
        from projections.lookups import converted_records

        return converted_records(self, country)

    # -- snapshots and checkpoints ---------------------------------------------------------

    def snapshots(self) -> list[SnapshotSummary]:
        from projections.lookups import snapshots

        return snapshots(self)

    def snapshot(self, name: str) -> Snapshot:
        """A kept snapshot; signed off, with what changed since (``projections.signoff``)."""
        from projections.lookups import snapshot

        return snapshot(self, name)

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


def _as_date(side: str) -> date | None:
    try:
        return parse_day(side, what="date")
    except InvalidInput:
        return None
