"""The questions the figure rule asks, as an interface, and their answers from the figure table.

``Facts`` is what the rule depends on (``projections.figures``): for a list of locations
at once, their baseline assessments, which of them have any figures at all, and the flows
recorded after a date. ``SqlFacts`` answers each list with one statement (the list bound
as one parameter, an index seek per element: ``ReadModels.batch``), seeing only record
versions that were current at ``known_at`` (recorded at or before it, not yet superseded
then) and are not retracted. tests/facts_in_memory.py answers the same questions from a
list, so the rule's branches are tested without a database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol
from uuid import UUID

from ledger.backends import Cursor
from projections.backends import ReadModels
from projections.schema import (
    APPROVED,
    EPOCH_ORDINAL,
    MICROS_PER_DAY,
    VERSIONS,
    VIEW_LEAD,
)

FLOW_KINDS = ("registration", "return")
STOCK_KINDS = "('assessment', 'registration', 'return')"  # a new displacement is not one
LEVEL_COLUMNS = {0: "country", 1: "adm1", 2: "adm2"}
NO_LOWER_BOUND = -1  # a day before any (ordinals start at 1)


@dataclass(frozen=True)
class Fact:
    """One record version taking part in a figure."""

    record_id: str
    version: int
    kind: str
    pcode: str
    day: date
    precision: str
    individuals: int
    households: int | None
    created_at: int
    recorded_at: int
    position: int
    quantifier: str = "exact"
    parts: dict[str, int] | None = None  # by the dimension asked for, when one was

    @property
    def signed_individuals(self) -> int:
        return -self.individuals if self.kind == "return" else self.individuals

    @property
    def signed_households(self) -> int | None:
        if self.households is None:
            return None
        return -self.households if self.kind == "return" else self.households

    @property
    def bounds(self) -> Bounds:
        """What this record's quantifier makes of a sum it is added to (a return is
        subtracted: more than N returned leaves less than the sum)."""
        return Bounds.of(self.quantifier, subtracted=self.kind == "return")


@dataclass(frozen=True)
class Bounds:
    """How many parts of a sum leave it a lower bound, an upper bound, or approximate;
    ``quantifier`` is the sum's: exact only when every part is, ``more-than`` when some
    are lower bounds and none an upper one (and conversely), else ``approximately``."""

    lower: int = 0
    upper: int = 0
    approximate: int = 0

    @classmethod
    def of(cls, quantifier: str, *, subtracted: bool = False) -> Bounds:
        if quantifier == "approximately":
            return cls(approximate=1)
        if quantifier in ("more-than", "less-than"):
            lower = (quantifier == "more-than") != subtracted
            return cls(lower=1) if lower else cls(upper=1)
        return cls()

    def __add__(self, other: Bounds) -> Bounds:
        return Bounds(
            self.lower + other.lower, self.upper + other.upper, self.approximate + other.approximate
        )

    def negated(self) -> Bounds:
        """The bounds of a sum that is subtracted."""
        return Bounds(self.upper, self.lower, self.approximate)

    @property
    def quantifier(self) -> str:
        if self.approximate or (self.lower and self.upper):
            return "approximately"
        if self.lower:
            return "more-than"
        return "less-than" if self.upper else "exact"


@dataclass(frozen=True)
class FlowSum:
    individuals: int = 0
    households: int = 0
    records: int = 0
    without_households: int = 0
    parts: dict[str, int] | None = None  # by the dimension asked for, signed like the sums
    bounds: Bounds = field(default_factory=Bounds)


@dataclass(frozen=True)
class FlowQuery:
    """Registrations minus returns at ``pcode`` (with ``below``, at any location under it,
    ``level`` being the location's own) dated after ``after`` (None: any date)."""

    pcode: str
    level: int
    below: bool
    after: date | None


class Facts(Protocol):
    """The figure rule's questions, each about many locations at once, as of ``until``."""

    def baselines(
        self, pcodes: Sequence[str], until: date, dimension: str | None = None
    ) -> dict[str, list[Fact]]:
        """For each location, every assessment at it on its latest assessed day ≤ until,
        recorded first to recorded last (the last is the baseline); with ``dimension``,
        each with its parts by it."""
        ...

    def present(self, pcodes: Sequence[str], level: int, until: date) -> set[str]:
        """Which of these locations (all at ``level``) have any figure at or below them
        dated ≤ until."""
        ...

    def flow_sums(
        self, queries: Sequence[FlowQuery], until: date, dimension: str | None = None
    ) -> list[FlowSum]:
        """Registrations minus returns per question; with ``dimension``, their parts by it
        too (records without the dimension add to no part)."""
        ...

    def flow_facts(self, queries: Sequence[FlowQuery], until: date) -> list[list[Fact]]:
        """The records ``flow_sums`` adds up, in date order."""
        ...


_FACT_COLUMNS = (
    "record_id", "version", "kind", "pcode", "day", "precision", "individuals",
    "households", "created_at", "recorded_at", "position", "quantifier",
)  # fmt: skip
FACT_SELECT = ", ".join(f"v.{c}" for c in _FACT_COLUMNS)
# current at K: recorded at or before it, not superseded by then, not a retraction
VISIBLE = (
    "{t}.recorded_at <= ? AND ({t}.superseded_at IS NULL OR {t}.superseded_at > ?) "
    "AND {t}.retracted = 0"
)
# (a triangulation figure is shown beside the counted ones, never counted)
_CURRENT = VISIBLE + " AND {t}.role = 'recommended'"
# the flows' quantifiers, as Bounds counts them (lower, upper, approximate)
_BOUNDS = (
    "count(CASE WHEN (v.quantifier = 'more-than' AND v.kind <> 'return') OR "
    "(v.quantifier = 'less-than' AND v.kind = 'return') THEN 1 END), "
    "count(CASE WHEN (v.quantifier = 'less-than' AND v.kind <> 'return') OR "
    "(v.quantifier = 'more-than' AND v.kind = 'return') THEN 1 END), "
    "count(CASE WHEN v.quantifier = 'approximately' THEN 1 END)"
)
SINGLE_VALUED = ("cause", "origin")  # a record's own cause or origin: one value for all


def parts_from(
    breakdowns: str | None,
    cause: str | None,
    origin: str | None,
    individuals: int,
    dimension: str,
) -> dict[str, int]:
    """A version's parts by one dimension: its breakdowns' (stored JSON text), else its
    single cause or origin as a part of all its individuals."""
    found = json.loads(breakdowns).get(dimension) if breakdowns else None
    if found:
        return dict(found)
    single = {"cause": cause, "origin": origin}.get(dimension)
    return {single: individuals} if single else {}


def _current(alias: str) -> str:
    return _CURRENT.format(t=alias)


def fact_of(row: Sequence[Any]) -> Fact:
    return Fact(
        str(UUID(row[0])), row[1], row[2], row[3], date.fromordinal(row[4]), row[5],
        row[6], row[7], row[8], row[9], row[10], row[11],
    )  # fmt: skip


class SqlFacts:
    """Facts from the figure table as known at one instant (µs since the epoch); with
    ``approved_only``, from the approved figure table (each record at its latest approved
    version, ``projections.schema.APPROVED``)."""

    def __init__(
        self, models: ReadModels, cur: Cursor, known_at: int, *, approved_only: bool = False
    ) -> None:
        self.models = models
        self.cur = cur
        self.known_at = known_at
        self.table = APPROVED.name if approved_only else VERSIONS.name
        self.horizon = self._horizon()

    def _horizon(self) -> int | None:
        """The last day anything known at ``known_at`` can bear (projections.schema)."""
        self.cur.execute(
            self.models.sql("SELECT position FROM dlp_position WHERE view = ?"), (VIEW_LEAD,)
        )
        row = self.cur.fetchone()
        if row is None:
            return None
        return self.known_at // MICROS_PER_DAY + EPOCH_ORDINAL + int(row[0])

    def _until(self, until: date) -> int:
        day = until.toordinal()
        return day if self.horizon is None or day <= self.horizon else self.horizon

    def _rows(self, statement: str, params: Sequence[Any]) -> list[Any]:
        self.cur.execute(self.models.sql(statement), params)
        return list(self.cur.fetchall())

    def baselines(
        self, pcodes: Sequence[str], until: date, dimension: str | None = None
    ) -> dict[str, list[Fact]]:
        out: dict[str, list[Fact]] = {p: [] for p in pcodes}
        if not pcodes:
            return out
        source, params = self.models.batch([(p,) for p in pcodes], ("text",))
        k = self.known_at
        found = self.models.seek(
            source,
            self.table,
            "v",
            "v.pcode = p.c0 AND v.kind = 'assessment' AND v.day = ("
            f"  SELECT w.day FROM {self.table} AS w WHERE w.pcode = p.c0 "
            f"  AND w.kind = 'assessment' AND w.day <= ? AND {_current('w')} "
            f"  ORDER BY w.day DESC LIMIT 1) AND {_current('v')}",
        )
        rows = self._rows(
            f"SELECT p.key, {FACT_SELECT}, v.breakdowns, v.cause, v.origin FROM {found} "
            "ORDER BY p.key, v.created_at, v.position",
            [*params, self._until(until), k, k, k, k],
        )
        for row in rows:
            fact = fact_of(row[1:13])
            if dimension is not None:
                parts = parts_from(row[13], row[14], row[15], fact.individuals, dimension)
                fact = replace(fact, parts=parts)
            out[fact.pcode].append(fact)
        return out

    def present(self, pcodes: Sequence[str], level: int, until: date) -> set[str]:
        if not pcodes:
            return set()
        column = LEVEL_COLUMNS.get(level, "pcode")
        source, params = self.models.batch([(p,) for p in pcodes], ("text",))
        rows = self._rows(
            f"SELECT p.c0 FROM {source} WHERE EXISTS (SELECT 1 FROM {self.table} AS v "
            f"WHERE v.{column} = p.c0 AND v.kind IN {STOCK_KINDS} AND v.day <= ? "
            f"AND {_current('v')})",
            [*params, self._until(until), self.known_at, self.known_at],
        )
        return {r[0] for r in rows}

    def _flow_groups(self, queries: Sequence[FlowQuery]) -> dict[str, list[int]]:
        """The queries' places, grouped by the column each seeks (one statement each)."""
        groups: dict[str, list[int]] = {}
        for i, q in enumerate(queries):
            below = q.below and q.level in LEVEL_COLUMNS
            groups.setdefault(LEVEL_COLUMNS[q.level] if below else "pcode", []).append(i)
        return groups

    def _flow_source(
        self, queries: Sequence[FlowQuery], chosen: list[int]
    ) -> tuple[str, list[Any]]:
        rows = []
        for i in chosen:
            after = queries[i].after
            rows.append((queries[i].pcode, NO_LOWER_BOUND if after is None else after.toordinal()))
        return self.models.batch(rows, ("text", "int"))

    def _flows(self, source: str, column: str) -> str:
        return self.models.seek(
            source,
            self.table,
            "v",
            f"v.{column} = p.c0 AND v.kind IN ('registration', 'return') AND v.day > p.c1 "
            f"AND v.day <= ? AND {_current('v')}",
        )

    def flow_sums(
        self, queries: Sequence[FlowQuery], until: date, dimension: str | None = None
    ) -> list[FlowSum]:
        """One statement per seek column; with ``dimension``, the flows are read once (a
        materialised CTE) for both the sums and the parts of their breakdowns (and, for a
        cause or an origin, the single values that stand for a whole record)."""
        out = [FlowSum(parts={} if dimension else None)] * len(queries)
        k = self.known_at
        m = self.models
        for column, chosen in self._flow_groups(queries).items():
            source, params = self._flow_source(queries, chosen)
            signed = (
                "CAST(coalesce(sum(CASE WHEN v.kind = 'return' THEN -{n} ELSE {n} END), 0) "
                "AS BIGINT)"
            )
            sums = (
                f"{signed.format(n='v.individuals')}, {signed.format(n='v.households')}, "
                "count(v.position), count(v.position) - count(v.households), "
                f"{_BOUNDS}"
            )
            if dimension is None:
                statement = (
                    f"SELECT p.key, NULL, {sums} FROM {self._flows(source, column)} GROUP BY p.key"
                )
            else:
                statement = (
                    "WITH f AS MATERIALIZED (SELECT p.key, v.position, v.kind, v.individuals, "
                    "v.households, v.breakdowns, v.cause, v.origin, v.quantifier "
                    f"FROM {self._flows(source, column)}) "
                    f"SELECT v.key, NULL, {sums} FROM f AS v GROUP BY v.key "
                    f"UNION ALL SELECT v.key, e.key, {signed.format(n=m.part_count())}, "
                    "0, 0, 0, 0, 0, 0 "
                    f"FROM f AS v {m.parts_join(dimension)} GROUP BY v.key, e.key"
                )
                if dimension in SINGLE_VALUED:
                    statement += (
                        f" UNION ALL SELECT v.key, v.{dimension}, "
                        f"{signed.format(n='v.individuals')}, 0, 0, 0, 0, 0, 0 FROM f AS v "
                        f"WHERE v.{dimension} IS NOT NULL AND (v.breakdowns IS NULL OR NOT "
                        f"{m.has_dimension(dimension)}) GROUP BY v.key, v.{dimension}"
                    )
            first = m.batch_base
            parts: dict[int, dict[str, int]] = {}
            for key, value, *numbers in self._rows(statement, [*params, self._until(until), k, k]):
                i = chosen[int(key) - first]
                if value is None:
                    individuals, households, records, without, lower, upper, approx = (
                        int(n) for n in numbers
                    )
                    bounds = Bounds(lower, upper, approx)
                    out[i] = FlowSum(individuals, households, records, without, bounds=bounds)
                else:
                    found = parts.setdefault(i, {})
                    found[value] = found.get(value, 0) + int(numbers[0])
            if dimension is not None:
                for i in chosen:
                    out[i] = replace(out[i], parts=parts.get(i, {}))
        return out

    def flow_facts(self, queries: Sequence[FlowQuery], until: date) -> list[list[Fact]]:
        out: list[list[Fact]] = [[] for _ in queries]
        k = self.known_at
        for column, chosen in self._flow_groups(queries).items():
            source, params = self._flow_source(queries, chosen)
            rows = self._rows(
                f"SELECT p.key, {FACT_SELECT} FROM {self._flows(source, column)} "
                "ORDER BY p.key, v.day, v.pcode, v.position",
                [*params, self._until(until), k, k],
            )
            first = self.models.batch_base
            for row in rows:
                out[chosen[int(row[0]) - first]].append(fact_of(row[1:]))
        return out

    def waiting(self, countries: Sequence[str]) -> int:
        """How many current record versions in these countries (as known at K) are not
        the approved ones: what ``--approved-only`` leaves out until it is reviewed."""
        if not countries:
            return 0
        source, params = self.models.batch([(c,) for c in countries], ("text",))
        k = self.known_at
        seek = self.models.seek(source, VERSIONS.name, "v", "v.country = p.c0")
        rows = self._rows(
            f"SELECT count(*) FROM {seek} "
            f"WHERE {VISIBLE.format(t='v')} AND NOT EXISTS (SELECT 1 FROM {APPROVED.name} AS a "
            "WHERE a.record_id = v.record_id AND a.version = v.version "
            f"AND {VISIBLE.format(t='a')})",
            [*params, k, k, k, k],
        )
        return int(rows[0][0])
