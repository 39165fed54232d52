"""What an explanation shows beside the figures: the triangulation figures, and each
record version's corrections, source, reviews and conversion (``projections.explain``).

``ShownFacts`` is ``SqlFacts`` with those questions, each about a whole list at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from projections.facts import FACT_SELECT, STOCK_KINDS, VISIBLE, Fact, SqlFacts, fact_of
from projections.schema import DETAILS, REVIEWS, VERSIONS


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


@dataclass(frozen=True)
class Details:
    """What a version says beyond its figure, as an explanation shows it."""

    source: dict[str, Any]
    actor: str
    breakdowns: dict[str, dict[str, int]] | None = None
    role: str = "recommended"
    conversion: dict[str, Any] | None = None
    db_user: str | None = None  # who the database says appended it (PostgreSQL)


class ShownFacts(SqlFacts):
    """The facts an explanation needs beyond the figure rule's. ``url`` names the
    database, for the chain table's session users (``ledger.chain.session_users``)."""

    url: str | None = None

    def triangulation(
        self, places: Sequence[tuple[str, date]]
    ) -> dict[tuple[str, date], list[Fact]]:
        """The triangulation figures (another source's number, kept to compare) at these
        locations on these days, as known at K: what ``explain`` lists beside the counted."""
        wanted = list(dict.fromkeys(places))
        out: dict[tuple[str, date], list[Fact]] = {w: [] for w in wanted}
        if not wanted:
            return out
        source, params = self.models.batch(
            [(pcode, day.toordinal()) for pcode, day in wanted], ("text", "int")
        )
        visible = VISIBLE.format(t="v")
        rows = self._rows(
            f"SELECT p.key, {FACT_SELECT} FROM "
            + self.models.seek(
                source, self.table, "v",
                # the kinds named so that the (pcode, kind, day) index seeks the day too
                f"v.pcode = p.c0 AND v.kind IN {STOCK_KINDS} AND v.day = p.c1 "
                f"AND v.role = 'triangulation' AND {visible}",
            )
            + " ORDER BY p.key, v.position",
            [*params, self.known_at, self.known_at],
        )  # fmt: skip
        first = self.models.batch_base
        for row in rows:
            out[wanted[int(row[0]) - first]].append(fact_of(row[1:]))
        return out

    def reviews_of(
        self, asked: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], list[dict[str, Any]]]:
        """The reviews of these (record id, version)s recorded by K, oldest first."""
        wanted = list(dict.fromkeys(asked))
        out: dict[tuple[str, int], list[dict[str, Any]]] = {w: [] for w in wanted}
        if not wanted:
            return out
        source, params = self.models.batch(
            [(UUID(rid).hex, version) for rid, version in wanted], ("text", "int")
        )
        rows = self._rows(
            "SELECT p.key, r.status, r.comment, r.actor, r.at FROM "
            + self.models.seek(
                source, REVIEWS.name, "r", "r.record_id = p.c0 AND r.version = p.c1 AND r.at <= ?"
            )
            + " ORDER BY p.key, r.position",
            [*params, self.known_at],
        )
        first = self.models.batch_base
        for key, status, comment, actor, at in rows:
            out[wanted[int(key) - first]].append(
                {"status": status, "comment": comment, "actor": actor, "at": int(at)}
            )
        return out

    def corrections_of(
        self, asked: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], list[Correction]]:
        """For each (record id, version): the corrections made up to that version, oldest
        first (one seek on the (record_id, version) index each, in one statement)."""
        wanted = list(dict.fromkeys(asked))
        out: dict[tuple[str, int], list[Correction]] = {w: [] for w in wanted}
        if not wanted:
            return out
        source, params = self.models.batch(
            [(UUID(rid).hex, up_to) for rid, up_to in wanted], ("text", "int")
        )
        rows = self._rows(
            "SELECT p.key, v.version, d.reason, d.actor, d.changes, v.recorded_at FROM "
            + self.models.seek(
                source,
                VERSIONS.name,
                "v",
                "v.record_id = p.c0 AND v.version <= p.c1 AND v.action = 'corrected'",
            )
            + f" JOIN {DETAILS.name} AS d ON d.position = v.position ORDER BY p.key, v.version",
            params,
        )
        first = self.models.batch_base
        for key, version, reason, actor, changes, recorded_at in rows:
            record_id, up_to = wanted[int(key) - first]
            out[(record_id, up_to)] += [
                Correction(record_id, version, c["field"], c["old"], c["new"], reason, actor,
                           recorded_at)
                for c in json.loads(changes)
            ]  # fmt: skip
        return out

    def details_of(self, positions: Sequence[int]) -> dict[int, Details]:
        """The source and actor of these versions (by log position)."""
        wanted = sorted(set(positions))
        if not wanted:
            return {}
        source, params = self.models.batch([(p,) for p in wanted], ("int",))
        rows = self._rows(
            "SELECT d.position, d.source, d.actor, v.breakdowns, v.role, d.conversion FROM "
            + self.models.seek(source, DETAILS.name, "d", "d.position = p.c0")
            + f" JOIN {VERSIONS.name} AS v ON v.position = d.position",
            params,
        )
        users = session_users_at(self.url, self.cur, wanted) if self.url else {}
        return {
            int(r[0]): Details(
                json.loads(r[1]), r[2], None if r[3] is None else json.loads(r[3]), r[4],
                None if r[5] is None else json.loads(r[5]), users.get(int(r[0])),
            )
            for r in rows
        }  # fmt: skip


def session_users_at(url: str, cur: Any, positions: Sequence[int]) -> dict[int, str]:
    """The database session user that appended each of these events, where the chain
    table records one (PostgreSQL; ``ledger.chain.session_users``)."""
    from ledger.backends import store_for
    from ledger.chain import session_users

    return session_users(store_for(url), cur, positions)
