"""The questions the figure rule asks of the figure table, as indexed SQL.

Every query sees only record versions that were current at ``known_at`` (recorded at or
before it, not yet superseded then) and are not retractions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
)

from projections.schema import (
    VIEW_LEAD,
    from_micros,
    read_position_or_none,
    select_versions,
    versions,
)

FLOW_KINDS = ("registration", "return")
_BY_LEVEL = {0: versions.c.country, 1: versions.c.adm1, 2: versions.c.adm2}


@dataclass(frozen=True)
class Fact:
    """One record version taking part in a figure, with what its corrections changed."""

    record_id: str
    version: int
    kind: str
    pcode: str
    day: date
    precision: str
    individuals: int
    households: int | None
    source: dict[str, Any]
    created_at: int
    recorded_at: int
    actor: str
    position: int

    @property
    def signed_individuals(self) -> int:
        return -self.individuals if self.kind == "return" else self.individuals

    @property
    def signed_households(self) -> int | None:
        if self.households is None:
            return None
        return -self.households if self.kind == "return" else self.households


@dataclass(frozen=True)
class FlowSum:
    individuals: int = 0
    households: int = 0
    records: int = 0
    without_households: int = 0


@dataclass(frozen=True)
class FlowQuery:
    """One flow-sum question: see :meth:`SqlFacts.flow_sum`."""

    pcode: str
    level: int
    below: bool
    after: date | None


@dataclass(frozen=True)
class Correction:
    record_id: str
    version: int
    field: str
    old: Any
    new: Any
    reason: str | None
    actor: str
    recorded_at: int


def _fact(row: Any) -> Fact:
    return Fact(
        record_id=str(UUID(row.record_id)),
        version=row.version,
        kind=row.kind,
        pcode=row.pcode,
        day=row.day,
        precision=row.precision,
        individuals=row.individuals,
        households=row.households,
        source=json.loads(row.source),
        created_at=row.created_at,
        recorded_at=row.recorded_at,
        actor=row.actor,
        position=row.position,
    )


_K: Any = bindparam("known_at")
_CURRENT = and_(
    versions.c.recorded_at <= _K,
    or_(versions.c.superseded_at.is_(None), versions.c.superseded_at > _K),
    versions.c.retracted.is_(False),
)
_SIGN = case((versions.c.kind == "return", -1), else_=1)
_AT_PCODE = and_(
    versions.c.pcode == bindparam("pcode"),
    versions.c.kind == "assessment",
    versions.c.day <= bindparam("until"),
    _CURRENT,
)
_LATEST_ASSESSED_DAY = (
    select(versions.c.day).where(_AT_PCODE).order_by(versions.c.day.desc()).limit(1)
)
# one statement, not a query for the day and another for its assessments: the rule asks
# this of every location it visits, and on PostgreSQL each statement is a round trip
_ASSESSMENTS_ON_LATEST_DAY = (
    select_versions()
    .where(and_(_AT_PCODE, versions.c.day == _LATEST_ASSESSED_DAY.scalar_subquery()))
    .order_by(versions.c.created_at, versions.c.position)
)


def _flow_where(column: Any, after: bool) -> ColumnElement[bool]:
    where = [
        column == bindparam("pcode"),
        versions.c.kind.in_(FLOW_KINDS),
        versions.c.day <= bindparam("until"),
        _CURRENT,
    ]
    if after:
        where.append(versions.c.day > bindparam("after"))
    return and_(*where)


def _statements() -> tuple[dict[tuple[Any, bool], Any], dict[tuple[Any, bool], Any]]:
    """Statements built once: SQLAlchemy then reuses their compiled form and cache key."""
    sums: dict[tuple[Any, bool], Any] = {}
    rows: dict[tuple[Any, bool], Any] = {}
    for column in (*_BY_LEVEL.values(), versions.c.pcode):
        for after in (False, True):
            where = _flow_where(column, after)
            sums[(column.key, after)] = select(
                func.coalesce(func.sum(_SIGN * versions.c.individuals), 0),
                func.coalesce(func.sum(_SIGN * versions.c.households), 0),
                func.count(),
                func.count() - func.count(versions.c.households),
            ).where(where)
            rows[(column.key, after)] = (
                select_versions()
                .where(where)
                .order_by(versions.c.day, versions.c.pcode, versions.c.position)
            )
    return sums, rows


_FLOW_SUMS, _FLOW_ROWS = _statements()
_PRESENT = {
    column.key: select(column)
    .where(
        and_(
            column.in_(bindparam("codes", expanding=True)),
            versions.c.day <= bindparam("until"),
            _CURRENT,
        )
    )
    .group_by(column)
    for column in (*_BY_LEVEL.values(), versions.c.pcode)
}


_Call = tuple[Any, dict[str, Any]]  # a statement and its parameters


class SqlFacts:
    """Facts as known at one instant (microseconds since the epoch)."""

    def __init__(self, conn: Connection, known_at: int) -> None:
        self.conn = conn
        self.known_at = known_at
        self.horizon = _horizon(conn, known_at)
        self._pipelines = conn.dialect.name == "postgresql"

    def _until(self, until: date) -> date:
        """``until``, or the last date anything known at ``known_at`` can bear if that is
        earlier (same answer; historical questions about later dates then seek)."""
        return until if self.horizon is None or until <= self.horizon else self.horizon

    def baselines(self, pcode: str, until: date) -> list[Fact]:
        """All assessments at ``pcode`` on its latest assessed day ≤ until, recorded first
        to recorded last (the last is the baseline, the others are superseded)."""
        return self.baselines_of([pcode], until)[pcode]

    def baselines_of(self, pcodes: Sequence[str], until: date) -> dict[str, list[Fact]]:
        """:meth:`baselines` of several locations (on PostgreSQL in one round trip)."""
        results = self._many(self._baseline_calls(pcodes, until))
        return {p: [_fact(r) for r in rows] for p, rows in zip(pcodes, results, strict=True)}

    def present(self, pcodes: list[str], level: int, until: date) -> set[str]:
        """Which of these locations (all at ``level``) have any fact at or below them
        dated ≤ until: one grouped query instead of one probe per location."""
        statement, params = self._present_call(pcodes, level, until)
        return {r[0] for r in self.conn.execute(statement, params)}

    def survey(
        self, pcodes: Sequence[str], level: int, until: date
    ) -> tuple[set[str], dict[str, list[Fact]]]:
        """:meth:`present` and :meth:`baselines_of` of the same locations in one batch."""
        if not self._pipelines:  # in-process: no round trips to save, no seeks to waste
            present = self.present(list(pcodes), level, until)
            return present, self.baselines_of([p for p in pcodes if p in present], until)
        calls = [self._present_call(pcodes, level, until), *self._baseline_calls(pcodes, until)]
        found, *baselines = self._many(calls)
        return {r[0] for r in found}, {
            p: [_fact(r) for r in rows] for p, rows in zip(pcodes, baselines, strict=True)
        }

    def flow_sum(
        self, pcode: str, level: int, *, below: bool, after: date | None, until: date
    ) -> FlowSum:
        """Registrations minus returns at pcode (and, with ``below``, any location under
        it) dated after ``after`` and on or before ``until``."""
        return self.flow_sums([FlowQuery(pcode, level, below, after)], until)[0]

    def flow_sums(self, queries: Sequence[FlowQuery], until: date) -> list[FlowSum]:
        """:meth:`flow_sum` of several questions (on PostgreSQL in one round trip)."""
        results = self._many(self._flow_calls(queries, until, _FLOW_SUMS))
        return [FlowSum(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for (r,) in results]

    def flow_facts(
        self, pcode: str, level: int, *, below: bool, after: date | None, until: date
    ) -> list[Fact]:
        """The records :meth:`flow_sum` adds up, in date order."""
        return self.flow_facts_of([FlowQuery(pcode, level, below, after)], until)[0]

    def flow_facts_of(self, queries: Sequence[FlowQuery], until: date) -> list[list[Fact]]:
        """:meth:`flow_facts` of several questions (on PostgreSQL in one round trip)."""
        results = self._many(self._flow_calls(queries, until, _FLOW_ROWS))
        return [[_fact(r) for r in rows] for rows in results]

    def _baseline_calls(self, pcodes: Sequence[str], until: date) -> list[_Call]:
        bound = self._until(until)
        return [
            (_ASSESSMENTS_ON_LATEST_DAY, {"pcode": p, "until": bound, "known_at": self.known_at})
            for p in pcodes
        ]

    def _present_call(self, pcodes: Sequence[str], level: int, until: date) -> _Call:
        column = _BY_LEVEL.get(level, versions.c.pcode)
        params = {"codes": list(pcodes), "until": self._until(until), "known_at": self.known_at}
        return _PRESENT[column.key], params

    def _flow_calls(
        self, queries: Sequence[FlowQuery], until: date, statements: dict[tuple[str, bool], Any]
    ) -> list[_Call]:
        bound = self._until(until)
        calls = []
        for q in queries:
            below = q.below and q.level in _BY_LEVEL
            column = _BY_LEVEL[q.level] if below else versions.c.pcode
            params: dict[str, Any] = {"pcode": q.pcode, "until": bound, "known_at": self.known_at}
            if q.after is not None:
                params["after"] = q.after
            calls.append((statements[(str(column.key), q.after is not None)], params))
        return calls

    def _many(self, calls: list[_Call]) -> list[list[Any]]:
        """Run independent statements; their rows in order. The figure rule asks two small
        indexed questions per location, and on PostgreSQL each statement alone is a round
        trip to the server: there they go out together in libpq's pipeline mode, the same
        statements in the same transaction, so only the waiting changes."""
        if len(calls) > 1 and self._pipelines:
            pipelined = _pipelined(self.conn, calls)
            if pipelined is not None:
                return pipelined
        return [list(self.conn.execute(statement, params)) for statement, params in calls]

    def corrections_of(
        self, versions_asked: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], list[Correction]]:
        """For each (record id, version): the corrections made up to that version, oldest
        first. One index seek per version, sent together (on PostgreSQL, one round trip)."""
        asked = list(dict.fromkeys(versions_asked))
        calls: list[_Call] = [
            (_CORRECTIONS, {"record_id": UUID(rid).hex, "up_to": up_to}) for rid, up_to in asked
        ]
        out: dict[tuple[str, int], list[Correction]] = {}
        for (record_id, up_to), rows in zip(asked, self._many(calls), strict=True):
            out[(record_id, up_to)] = [
                Correction(
                    record_id=record_id,
                    version=row.version,
                    field=change["field"],
                    old=change["old"],
                    new=change["new"],
                    reason=row.reason,
                    actor=row.actor,
                    recorded_at=row.recorded_at,
                )
                for row in rows
                for change in json.loads(row.changes)
            ]
        return out


# a seek on the (record_id, version) index, whatever the table's statistics say
_CORRECTIONS = (
    select_versions()
    .where(
        and_(
            versions.c.record_id == bindparam("record_id"),
            versions.c.version <= bindparam("up_to"),
            versions.c.action == "corrected",
        )
    )
    .order_by(versions.c.version)
)


_PG_COMPILED: dict[int, Any] = {}


def _pipelined(conn: Connection, calls: list[_Call]) -> list[list[Any]] | None:
    """The calls' rows through psycopg's pipeline mode, or None where libpq lacks it."""
    import psycopg
    from psycopg.rows import namedtuple_row

    if not psycopg.Pipeline.is_supported():
        return None
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        return None
    cursors = []
    with driver.pipeline() as pipeline:
        for statement, params in calls:
            compiled = _PG_COMPILED.get(id(statement))
            if compiled is None:  # module-level statements: compiled once per process
                compiled = _PG_COMPILED[id(statement)] = statement.compile(dialect=conn.dialect)
            state = compiled.construct_expanded_state(params)
            cursor = driver.cursor(row_factory=namedtuple_row)
            cursor.execute(state.statement, state.parameters)
            cursors.append(cursor)
        pipeline.sync()
        return [cursor.fetchall() for cursor in cursors]


def _horizon(conn: Connection, known_at: int) -> date | None:
    """The UTC day of ``known_at`` plus the figure table's lead (projections.schema)."""
    lead = read_position_or_none(conn, VIEW_LEAD)
    if lead is None:
        return None
    try:
        return from_micros(known_at).date() + timedelta(days=int(lead))
    except (OverflowError, ValueError):  # beyond the calendar: no bound
        return None


def iso(micros: int) -> str:
    return from_micros(micros).isoformat()
