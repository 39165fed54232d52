"""Read use cases: every query first brings the figure table up to date with the log."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from ledger.application import Ledger, parse_record_id
from ledger.dates import FigureDate, Precision, parse_day, parse_instant, utc_now
from ledger.errors import RecordNotFound
from ledger.locations import Location, level_number
from projections.catchup import FigureProjection
from projections.explain import Explanation, explain
from projections.facts import SqlFacts
from projections.figures import FigureRule
from projections.schema import from_micros, select_versions, to_micros, versions
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

    def checkpoint(self) -> dict[str, Any]:
        """The hash-chain checkpoint of the log position these answers were computed at."""
        from ledger.chain import at_position

        return at_position(self.ledger, self.position).as_dict()

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
        if level == 0 and chosen is None:
            level = by = None  # every country is listed anyway: one line each
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
                checkpoint=self.checkpoint(),
            )


def _countries_with_records(conn: Connection, known_at: int) -> set[str]:
    rows = conn.execute(
        select(versions.c.country)
        .where(versions.c.recorded_at <= known_at)
        .group_by(versions.c.country)
    )
    return {r[0] for r in rows}


@dataclass(frozen=True)
class VersionRow:
    """A record version as the figure table holds it, with its system-time interval."""

    record_id: str
    version: int
    action: str
    kind: str
    pcode: str
    date: str
    individuals: int
    households: int | None
    retracted: bool
    actor: str
    reason: str | None
    changes: list[dict[str, Any]]
    source: dict[str, Any]
    current_from: datetime
    current_until: datetime | None


def record_history(reader: Reader, record_id: str) -> list[VersionRow]:
    """Every version of a record from the figure table (after catching up)."""
    rid = parse_record_id(record_id)
    with reader.projection.engine.connect() as conn:
        rows = (
            conn.execute(
                select_versions()
                .where(versions.c.record_id == rid.hex)
                .order_by(versions.c.version)
            )
            .mappings()
            .all()
        )
    if not rows:
        raise RecordNotFound(rid)
    return [
        VersionRow(
            record_id=str(rid),
            version=r["version"],
            action=r["action"],
            kind=r["kind"],
            pcode=r["pcode"],
            date=_date_text(r["day"], r["precision"]),
            individuals=r["individuals"],
            households=r["households"],
            retracted=r["retracted"],
            actor=r["actor"],
            reason=r["reason"],
            changes=json.loads(r["changes"] or "[]"),
            source=json.loads(r["source"]),
            current_from=from_micros(r["recorded_at"]),
            current_until=from_micros(r["superseded_at"]) if r["superseded_at"] else None,
        )
        for r in rows
    ]


def _date_text(day: date, precision: str) -> str:
    return str(FigureDate(day, Precision(precision)))
