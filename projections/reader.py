"""Read use cases: every query first brings the figure table up to date with the log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, select

from ledger.application import Ledger
from ledger.dates import parse_day, parse_instant, utc_now
from ledger.locations import Location, level_number
from projections.catchup import FigureProjection
from projections.explain import Explanation, explain
from projections.facts import SqlFacts
from projections.figures import FigureRule
from projections.schema import to_micros, versions
from projections.totals import Totals, breakdown, line_of


@dataclass(frozen=True)
class Moment:
    """The two instants every read answers for."""

    as_of: date
    known_at: datetime

    @classmethod
    def parse(cls, as_of: str | None, known_at: str | None) -> Moment:
        now = utc_now()
        return cls(
            as_of=parse_day(as_of, what="--as-of") if as_of else now.date(),
            known_at=parse_instant(known_at) if known_at else now,
        )


class Reader:
    """Totals, explanations, series and comparisons over one ledger."""

    def __init__(self, ledger: Ledger, progress: Callable[[int], None] | None = None) -> None:
        self.ledger = ledger
        self.projection = FigureProjection(ledger)
        self.position = self.projection.catch_up(progress).position
        self.index = self.projection.index()

    @contextmanager
    def _rule(self, moment: Moment, *, detail: bool = False) -> Iterator[FigureRule]:
        with self.projection.engine.connect() as conn:
            facts = SqlFacts(conn, to_micros(moment.known_at))
            yield FigureRule(facts, self.index, moment.as_of, detail=detail)

    def countries(self, moment: Moment) -> list[Location]:
        """Countries with any record version known at the moment (all of them if none)."""
        with self.projection.engine.connect() as conn:
            codes = _countries_with_records(conn, to_micros(moment.known_at))
        found = [self.index.get(c) for c in sorted(codes) if c in self.index]
        return found or self.index.countries()

    def location(self, query: str | None) -> Location | None:
        return None if query is None else self.index.resolve(query).location

    def totals(
        self, moment: Moment, location: str | None = None, by: str | None = None
    ) -> list[Totals]:
        """One Totals per country (or just the given location)."""
        level = level_number(by) if by else None
        chosen = self.location(location)
        places = [chosen] if chosen else self.countries(moment)
        with self._rule(moment) as rule:
            return [self._totals(rule, moment, place, level, by) for place in places]

    def _totals(
        self, rule: FigureRule, moment: Moment, place: Location, level: int | None, by: str | None
    ) -> Totals:
        figure = rule.figure(place.pcode)
        rows = breakdown(rule, place, level) if level is not None else None
        return Totals(
            as_of=moment.as_of,
            known_at=moment.known_at,
            position=self.position,
            location=place,
            total=line_of(figure, self.index, moment.as_of),
            by=by,
            rows=rows,
        )

    def explain(self, moment: Moment, location: str) -> Explanation:
        place = self.index.resolve(location).location
        with self._rule(moment, detail=True) as rule:
            return explain(
                rule.figure(place.pcode),
                self.index,
                rule.facts,
                as_of=moment.as_of,
                known_at=moment.known_at,
                position=self.position,
            )


def _countries_with_records(conn: Connection, known_at: int) -> set[str]:
    rows = conn.execute(
        select(versions.c.country).where(versions.c.recorded_at <= known_at).group_by(
            versions.c.country
        )
    )
    return {r[0] for r in rows}
