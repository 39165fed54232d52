"""What was recorded in a window of system time, and which figures it changed."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.dates import parse_instant, utc_now
from ledger.errors import InvalidInput
from projections.facts import SqlFacts
from projections.figures import FigureRule
from projections.schema import DETAILS, VERSIONS, from_micros, to_micros
from projections.timeline import RevisedFigure, RevisionEvent, Revisions

if TYPE_CHECKING:
    from projections.service import ReadService

_COLUMNS = ("record_id", "version", "action", "kind", "pcode", "day", "individuals",
            "households", "recorded_at")  # fmt: skip
_DETAILS = ("changes", "reason", "actor")


def revisions(service: ReadService, since: str, until: str | None = None) -> Revisions:
    """For every location touched in (since, until] (and its ancestors) at every date
    touched, the figure as known at ``since`` and at ``until``, with the events that
    caused the difference."""
    start = parse_instant(since, what="--since")
    end = parse_instant(until, what="--until") if until else utc_now()
    if end < start:
        raise InvalidInput(f"--until {end.isoformat()} is before --since {start.isoformat()}")
    index, models = service.index, service.models
    columns = ", ".join([f"v.{c}" for c in _COLUMNS] + [f"d.{c}" for c in _DETAILS])
    with service._reading() as cur:
        cur.execute(
            models.sql(
                f"SELECT {columns} FROM {VERSIONS.name} AS v JOIN {DETAILS.name} AS d "
                "ON d.position = v.position WHERE v.recorded_at > ? AND v.recorded_at <= ? "
                "ORDER BY v.position"
            ),
            (to_micros(start), to_micros(end)),
        )
        rows = [dict(zip((*_COLUMNS, *_DETAILS), r, strict=True)) for r in cur.fetchall()]
        earlier = _previous_places(service, cur, [(r["record_id"], r["version"]) for r in rows])
        events = []
        touched: dict[tuple[str, date], list[str]] = {}
        for row in rows:
            ref = f"{UUID(row['record_id'])}@v{row['version']}"
            events.append(_event(row))
            places = {(row["pcode"], date.fromordinal(row["day"]))}
            if (row["record_id"], row["version"]) in earlier:
                places.add(earlier[(row["record_id"], row["version"])])
            for pcode, day in places:
                for place in [pcode, *index.ancestors(pcode)]:
                    touched.setdefault((place, day), []).append(ref)
        by_day: dict[date, list[str]] = {}
        for pcode, day in touched:
            by_day.setdefault(day, []).append(pcode)
        before_k, after_k = (
            SqlFacts(models, cur, to_micros(start)),
            SqlFacts(models, cur, to_micros(end)),
        )
        figures = []
        for day in sorted(by_day):
            before = FigureRule(before_k, index, day).figures(by_day[day])
            after = FigureRule(after_k, index, day).figures(by_day[day])
            for pcode in sorted(by_day[day]):
                old, new = before[pcode], after[pcode]
                if (old.individuals, old.households) == (new.individuals, new.households):
                    continue
                figures.append(
                    RevisedFigure(
                        pcode=pcode,
                        name=index.get(pcode).name,
                        as_of=day,
                        old_individuals=old.individuals,
                        old_households=old.households,
                        new_individuals=new.individuals,
                        new_households=new.households,
                        caused_by=tuple(sorted(set(touched[(pcode, day)]))),
                    )
                )
    return Revisions(start, end, tuple(events), tuple(figures))


def _previous_places(
    service: ReadService, cur: Any, versions: list[tuple[str, int]]
) -> dict[tuple[str, int], tuple[str, date]]:
    """For each (record, version) after the first: where and when the version before it
    stood (a correction may have moved it)."""
    wanted = [(rid, v - 1) for rid, v in versions if v > 1]
    if not wanted:
        return {}
    source, params = service.models.batch(wanted, ("text", "int"))
    cur.execute(
        service.models.sql(
            "SELECT v.record_id, v.version, v.pcode, v.day FROM "
            + service.models.seek(
                source, VERSIONS.name, "v", "v.record_id = p.c0 AND v.version = p.c1"
            )
        ),
        params,
    )
    return {(r[0], r[1] + 1): (r[2], date.fromordinal(r[3])) for r in cur.fetchall()}


def _event(row: dict[str, Any]) -> RevisionEvent:
    return RevisionEvent(
        record_id=str(UUID(row["record_id"])),
        version=row["version"],
        action=row["action"],
        kind=row["kind"],
        pcode=row["pcode"],
        date=date.fromordinal(row["day"]).isoformat(),
        individuals=row["individuals"],
        households=row["households"],
        changes=tuple(json.loads(row["changes"] or "[]")),
        reason=row["reason"],
        actor=row["actor"],
        recorded_at=from_micros(row["recorded_at"]).isoformat(),
    )
