"""Figures across time: series of period ends, comparisons, snapshots, revisions."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, select

from ledger.dates import parse_day, parse_instant, utc_now
from ledger.errors import InvalidInput, LedgerError
from projections.facts import SqlFacts
from projections.figures import FigureRule
from projections.reader import Moment, Reader
from projections.schema import from_micros, select_versions, snapshots, to_micros, versions
from projections.totals import Totals

EVERY = ("month", "quarter", "year")


def period_ends(start: date, end: date, every: str) -> list[date]:
    """The last day of each month/quarter/year that falls within [start, end]."""
    if every not in EVERY:
        raise InvalidInput(f"--every {every!r} is not one of {', '.join(EVERY)}")
    if end < start:
        raise InvalidInput(f"--to {end} is before --from {start}")
    step = {"month": 1, "quarter": 3, "year": 12}[every]
    year, month = start.year, start.month
    if every == "quarter":
        month = ((month - 1) // 3) * 3 + 3
    elif every == "year":
        month = 12
    out: list[date] = []
    while True:
        day = date(year, month, calendar.monthrange(year, month)[1])
        if day > end:
            return out
        if day >= start:
            out.append(day)
        month += step
        while month > 12:
            month -= 12
            year += 1


def single(results: list[Totals], what: str) -> Totals:
    if len(results) != 1:
        names = ", ".join(t.location.pcode for t in results)
        raise InvalidInput(f"{what} needs one location; the ledger has {names}: pass --location")
    return results[0]


@dataclass(frozen=True)
class Series:
    every: str
    points: list[Totals]

    def as_dict(self) -> dict[str, Any]:
        first = self.points[0] if self.points else None
        return {
            "every": self.every,
            "known_at": first.known_at.isoformat() if first else None,
            "location": first.as_dict()["location"] if first else None,
            "points": [
                {k: v for k, v in p.as_dict().items() if k not in ("known_at", "location")}
                for p in self.points
            ],
        }


def series(
    reader: Reader,
    start: str,
    end: str,
    every: str = "month",
    known_at: str | None = None,
    location: str | None = None,
    by: str | None = None,
) -> Series:
    instant = parse_instant(known_at) if known_at else utc_now()
    first = parse_day(start, what="--from")
    last = parse_day(end, what="--to")
    points = [
        single(reader.totals(Moment(day, instant), location, by), "series")
        for day in period_ends(first.replace(day=1), last, every)
    ]
    return Series(every, points)


@dataclass(frozen=True)
class Comparison:
    a: dict[str, Any]
    b: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        ta, tb = self.a["total"], self.b["total"]
        rows_a = {(r["pcode"], r["name"]): r for r in self.a.get("rows", [])}
        rows_b = {(r["pcode"], r["name"]): r for r in self.b.get("rows", [])}
        keys = list(dict.fromkeys([*rows_a, *rows_b]))
        rows = []
        for key in keys:
            ia = rows_a.get(key, {}).get("individuals", 0)
            ib = rows_b.get(key, {}).get("individuals", 0)
            if ia == ib == 0 and key[0] is not None:
                continue  # no figures on either side: nothing to compare
            rows.append({"pcode": key[0], "name": key[1], "a": ia, "b": ib, "change": ib - ia})
        hh = None
        if ta["households"] is not None and tb["households"] is not None:
            hh = tb["households"] - ta["households"]
        return {
            "a": self.a,
            "b": self.b,
            "change": {"individuals": tb["individuals"] - ta["individuals"], "households": hh},
            "rows": rows,
        }


def _as_date(side: str) -> date | None:
    try:
        return parse_day(side, what="date")
    except InvalidInput:
        return None


def snapshot_totals(reader: Reader, name: str, location: str | None) -> dict[str, Any]:
    kept = reader.ledger.named_snapshot(name).result
    countries = kept.get("countries", [kept])
    if location is not None:
        pcode = reader.index.resolve(location).location.pcode
        countries = [c for c in countries if c["location"]["pcode"] == pcode]
    if len(countries) != 1:
        raise LedgerError(f"snapshot {name!r} does not hold exactly one matching location")
    result: dict[str, Any] = dict(countries[0], snapshot=name)
    return result


def compare(
    reader: Reader, a: str, b: str, location: str | None = None, by: str | None = None
) -> Comparison:
    """Two dates (computed now, as known now) or snapshot names (as frozen). A date side
    takes a snapshot side's location and breakdown, so that the rows line up."""
    kept = {side: reader.ledger.named_snapshot(side) for side in (a, b) if _as_date(side) is None}
    for name, snapshot in kept.items():
        if by is not None and snapshot.by != by:
            raise InvalidInput(
                f"snapshot {name!r} was kept with --by {snapshot.by or '(none)'}, not --by {by}"
            )
        by = snapshot.by
        location = location or snapshot.location

    def side(text: str) -> dict[str, Any]:
        day = _as_date(text)
        if day is None:
            return snapshot_totals(reader, text, location)
        return single(reader.totals(Moment(day, utc_now()), location, by), "compare").as_dict()

    return Comparison(side(a), side(b))


def keep_snapshot(
    reader: Reader,
    name: str,
    as_of: str,
    known_at: str | None = None,
    location: str | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    moment = Moment.parse(as_of, known_at)
    results = [t.as_dict() for t in reader.totals(moment, location, by)]
    result: dict[str, Any] = (
        results[0]
        if len(results) == 1
        else {
            "as_of": moment.as_of.isoformat(),
            "known_at": moment.known_at.isoformat(),
            "countries": results,
        }
    )
    result["checkpoint"] = reader.checkpoint()
    reader.ledger.keep_snapshot(
        name=name,
        as_of=moment.as_of.isoformat(),
        known_at=moment.known_at.isoformat(),
        position=reader.position,
        location=location,
        by=by,
        result=result,
    )
    return show_snapshot(reader, name)


def list_snapshots(reader: Reader) -> list[dict[str, Any]]:
    with reader.projection.engine.connect() as conn:
        rows = conn.execute(select(snapshots).order_by(snapshots.c.created_at)).mappings()
        return [
            {
                "name": r["name"],
                "as_of": r["as_of"].isoformat(),
                "known_at": r["known_at"],
                "position": r["position"],
                "location": r["location"],
                "by": r["by_level"],
                "actor": r["actor"],
                "created_at": from_micros(r["created_at"]).isoformat(),
            }
            for r in rows
        ]


def show_snapshot(reader: Reader, name: str) -> dict[str, Any]:
    kept = reader.ledger.named_snapshot(name)
    return {
        "name": kept.name,
        "as_of": kept.as_of,
        "known_at": kept.known_at,
        "position": kept.position,
        "location": kept.location,
        "by": kept.by,
        "actor": kept.actor,
        "created_at": kept.created_on.isoformat(),
        "result": kept.result,
    }


@dataclass(frozen=True)
class Revisions:
    since: datetime
    until: datetime
    events: list[dict[str, Any]]
    figures: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "events": self.events,
            "figures": self.figures,
        }


def revisions(reader: Reader, since: str, until: str | None = None) -> Revisions:
    """Which figures changed because of what was recorded in (since, until]: for every
    location touched (and its ancestors) at every date touched, the figure as known at
    ``since`` and at ``until``, with the events that caused the difference."""
    start = parse_instant(since, what="--since")
    end = parse_instant(until, what="--until") if until else utc_now()
    if end < start:
        raise InvalidInput(f"--until {end.isoformat()} is before --since {start.isoformat()}")
    index = reader.index
    with reader.projection.engine.connect() as conn:
        rows = (
            conn.execute(
                select_versions()
                .where(
                    and_(
                        versions.c.recorded_at > to_micros(start),
                        versions.c.recorded_at <= to_micros(end),
                    )
                )
                .order_by(versions.c.position)
            )
            .mappings()
            .all()
        )
        events: list[dict[str, Any]] = []
        touched: dict[tuple[str, date], list[str]] = {}
        for row in rows:
            ref = f"{UUID(row['record_id'])}@v{row['version']}"
            events.append(_event_summary(row))
            previous = conn.execute(
                select(versions.c.pcode, versions.c.day).where(
                    and_(
                        versions.c.record_id == row["record_id"],
                        versions.c.version == row["version"] - 1,
                    )
                )
            ).first()
            places = {(row["pcode"], row["day"])}
            if previous is not None:
                places.add((previous[0], previous[1]))
            for pcode, day in places:
                for place in [pcode, *index.ancestors(pcode)]:
                    touched.setdefault((place, day), []).append(ref)
        figures = []
        known_before, known_after = SqlFacts(conn, to_micros(start)), SqlFacts(conn, to_micros(end))
        for (pcode, day), refs in sorted(touched.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            before = FigureRule(known_before, index, day).figure(pcode)
            after = FigureRule(known_after, index, day).figure(pcode)
            if (before.individuals, before.households) == (after.individuals, after.households):
                continue
            figures.append(
                {
                    "pcode": pcode,
                    "name": index.get(pcode).name,
                    "as_of": day.isoformat(),
                    "old": {"individuals": before.individuals, "households": before.households},
                    "new": {"individuals": after.individuals, "households": after.households},
                    "change": after.individuals - before.individuals,
                    "caused_by": sorted(set(refs)),
                }
            )
    return Revisions(start, end, events, figures)


def _event_summary(row: Any) -> dict[str, Any]:
    import json

    return {
        "record_id": str(UUID(row["record_id"])),
        "version": row["version"],
        "action": row["action"],
        "kind": row["kind"],
        "pcode": row["pcode"],
        "date": row["day"].isoformat(),
        "individuals": row["individuals"],
        "households": row["households"],
        "changes": json.loads(row["changes"] or "[]"),
        "reason": row["reason"],
        "actor": row["actor"],
        "recorded_at": from_micros(row["recorded_at"]).isoformat(),
    }
